"""The worker side: the pool of processes that claims jobs from a store and runs them.

One of three front ends beside `cli/` and `web/`; like them it calls core (models, retry,
settings, storage) and is never imported by it.

  supervisor.py    starts N workers, relays stop levels to them, restarts the ones that
                   crash, detaches; checkpoints a store that wants it (checkpointer.py)
  relay.py         the pool's one ear on the store's wake-ups: one idle worker per wake
  worker.py        one worker process: claim → run → finish, heartbeats, stop levels,
                   recovery of lost workers' jobs (recovery.py; orphans.py kills what
                   they left, before the store hands the jobs back)
  runner.py        runs one command: its own session, output, timeout, killpg
  log.py           the pool's log format and the per-job line
  proctitle.py     what `ps` shows for the pool's processes
"""
