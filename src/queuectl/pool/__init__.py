"""The worker side: the pool of processes that claims jobs from a store and runs them.

One of three front ends beside `cli/` and `web/`; like them it calls core (models, retry,
settings, storage) and is never imported by it.

  supervisor.py    starts N workers, relays stop levels to them, restarts the ones that
                   crash, detaches, speaks systemd's notify protocol (notify.py)
  stop.py          the stop levels the supervisor and its workers share
  relay.py         the pool's wake-ups: the supervisor's one ear on the store (SQLite's
                   datagrams, PostgreSQL's LISTEN), relayed to one idle worker per job
  checkpointer.py  the supervisor folds the store's write-ahead log in (SQLite's), so
                   workers do not have to
  worker.py        one worker: claim → run → finish, heartbeats, stop levels; in a pool
                   process (`run`) or embedded in a program or test (`work_until_idle`,
                   which drains what is due and returns, with no signal handlers)
  config_snapshot.py  a worker's copy of the stored config, refreshed by its heartbeats
  clocks.py        the monotonic and boot clocks a worker reads, given so a test can move
                   them with the store's clock
  store_calls.py   a worker's store calls through outages: retries, backoff, stalls
  recovery.py      handing back lost workers' jobs: one recovery pass per pool per interval
  orphans.py       kills what is left of a recovered job whose whole pool died (before
                   the store hands it back, with no lock held)
  housekeeping.py  beside the jobs: firing cron ticks, applying the retention
  runner.py        runs one command: its own session, output, timeout, killpg
  log.py           the pool's log formats (text, json) and the per-job line
  notify.py        systemd's notify protocol: READY, STATUS, STOPPING, WATCHDOG

What `ps` shows for the pool's processes is queuectl/proctitle.py, shared with the dashboard.
"""
