"""The worker side: the pool of processes that claims jobs from a store and runs them.

One of three front ends beside `cli/` and `web/`; like them it calls core (models, retry,
settings, storage) and is never imported by it.

  supervisor.py    starts N workers, relays stop levels to them, restarts the ones that
                   crash, detaches; checkpoints SQLite's WAL (checkpointer.py)
  worker.py        one worker process: claim → run → finish, heartbeats, stop levels,
                   recovery of lost workers' jobs (orphans.py kills what they left)
  runner.py        runs one command: its own session, output, timeout, killpg
  log.py           the pool's log format and the per-job line
  proctitle.py     what `ps` shows for the pool's processes
"""
