-- Recurring jobs (cron): the schedules, the ticks they skipped, and the schedule each job
-- came from. Times are epoch milliseconds, as everywhere.
ALTER TABLE jobs ADD COLUMN cron text;  -- the schedule that enqueued the job, or NULL
-- A schedule's jobs, newest first: its last job (cron list, the overlap check) in one step.
CREATE INDEX jobs_cron ON jobs (cron, seq) WHERE cron IS NOT NULL;

CREATE TABLE cron_schedules (
    name        text    PRIMARY KEY,
    schedule    text    NOT NULL,             -- as the user wrote it
    tz          text    NOT NULL,             -- IANA zone name
    command     text    NOT NULL,
    max_retries bigint,                       -- NULL: the config's when a tick fires
    priority    bigint  NOT NULL DEFAULT 0,
    timeout     double precision,             -- NULL: the config's job-timeout
    queue       text    NOT NULL DEFAULT 'default',
    cwd         text    NOT NULL,
    env         text,                         -- JSON object, or NULL
    overlap     text    NOT NULL,             -- skip | allow
    catch_up    text    NOT NULL,             -- latest | none
    paused      boolean NOT NULL DEFAULT false,
    next_run_at bigint,                       -- the next tick; NULL: it never ticks again
    skipped     bigint  NOT NULL DEFAULT 0,   -- ticks skipped (overlap), ever
    created_at  bigint  NOT NULL,
    updated_at  bigint  NOT NULL
);
-- The earliest tick to come: what an idle worker sleeps until.
CREATE INDEX cron_due ON cron_schedules (next_run_at) WHERE NOT paused;

CREATE TABLE cron_skipped (
    name       text   NOT NULL,
    tick       bigint NOT NULL,
    blocked_by text,                          -- the schedule's unfinished job at the time
    PRIMARY KEY (name, tick)
);
