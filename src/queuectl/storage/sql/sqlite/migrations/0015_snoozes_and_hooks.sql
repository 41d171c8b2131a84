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
-- A job meets an event (it completed, failed and will be retried, went dead, was cancelled,
-- or was taken back from a lost worker): one job per matching hook, in queue `hooks`, in
-- the transaction that made the change (every end of a job writes attempts, which this
-- fires on; so the claim fires nothing). The hook job takes the config's max-retries and
-- job-timeout, as a job enqueued then would.
CREATE TRIGGER jobs_hooks AFTER UPDATE OF attempts ON jobs
    WHEN NEW.hook IS NULL AND NEW.state <> OLD.state
     AND NEW.state IN ('completed', 'failed', 'dead', 'cancelled')
     AND EXISTS (SELECT 1 FROM hooks)
BEGIN
    INSERT INTO jobs (id, command, state, max_retries, priority, timeout, queue, cwd,
                      run_at, created_at, updated_at, hook)
    SELECT lower(hex(randomblob(5))), h.command, 'pending',
           coalesce((SELECT CAST(value AS INTEGER) FROM config WHERE key = 'max-retries'), 3),
           0, (SELECT nullif(CAST(value AS REAL), 0) FROM config WHERE key = 'job-timeout'),
           'hooks', h.cwd, NEW.updated_at, NEW.updated_at, NEW.updated_at,
           json_object('name', h.name, 'event', e.event, 'job', NEW.id)
    FROM hooks AS h
    JOIN (SELECT NEW.state AS event
          UNION ALL
          SELECT 'lost' WHERE NEW.last_error = 'worker lost' AND OLD.state = 'processing') AS e
      ON e.event IN (SELECT value FROM json_each(h.events))
    WHERE (h.queue IS NULL OR h.queue = NEW.queue) AND (h.cron IS NULL OR h.cron = NEW.cron)
    ORDER BY h.name, e.event;
END;
