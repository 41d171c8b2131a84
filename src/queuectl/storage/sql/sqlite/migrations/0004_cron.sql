-- Recurring jobs (cron): the schedules, the ticks they skipped, and the schedule each job
-- came from. Times are epoch milliseconds, as everywhere.
ALTER TABLE jobs ADD COLUMN cron TEXT;  -- the schedule that enqueued the job, or NULL
-- A schedule's jobs, newest first: its last job (cron list, the overlap check) in one step.
CREATE INDEX jobs_cron ON jobs (cron, seq) WHERE cron IS NOT NULL;

CREATE TABLE cron_schedules (
    name        TEXT    PRIMARY KEY,
    schedule    TEXT    NOT NULL,             -- as the user wrote it
    tz          TEXT    NOT NULL,             -- IANA zone name
    command     TEXT    NOT NULL,
    max_retries INTEGER,                      -- NULL: the config's when a tick fires
    priority    INTEGER NOT NULL DEFAULT 0,
    timeout     REAL,                         -- NULL: the config's job-timeout
    queue       TEXT    NOT NULL DEFAULT 'default',
    cwd         TEXT    NOT NULL,
    env         TEXT,                         -- JSON object, or NULL
    overlap     TEXT    NOT NULL,             -- skip | allow
    catch_up    TEXT    NOT NULL,             -- latest | none
    paused      INTEGER NOT NULL DEFAULT 0,
    next_run_at INTEGER,                      -- the next tick; NULL: it never ticks again
    skipped     INTEGER NOT NULL DEFAULT 0,   -- ticks skipped (overlap), ever
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
-- The earliest tick to come: what an idle worker sleeps until.
CREATE INDEX cron_due ON cron_schedules (next_run_at) WHERE paused = 0;

CREATE TABLE cron_skipped (
    name       TEXT    NOT NULL,
    tick       INTEGER NOT NULL,
    blocked_by TEXT,                          -- the schedule's unfinished job at the time
    PRIMARY KEY (name, tick)
);
