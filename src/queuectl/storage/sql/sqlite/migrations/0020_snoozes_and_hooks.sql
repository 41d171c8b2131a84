-- `queuectl snooze`: how many times a job sent itself back to wait without spending a retry.
ALTER TABLE jobs ADD COLUMN snoozes INTEGER NOT NULL DEFAULT 0;

-- Hooks (`hook add`): a job enqueued when a job meets one of the hook's events.
CREATE TABLE hooks (
    name       TEXT    PRIMARY KEY,
    events     TEXT    NOT NULL,              -- JSON array: completed, failed, dead, ...
    command    TEXT    NOT NULL,
    queue      TEXT,                          -- only jobs of this queue (NULL: any)
    cron       TEXT,                          -- only jobs of this schedule (NULL: any)
    cwd        TEXT    NOT NULL,              -- where its jobs run
    created_at INTEGER NOT NULL
);
-- A hook's job: JSON {"name", "event", "job"}; its own events fire no hook.
ALTER TABLE jobs ADD COLUMN hook TEXT;
