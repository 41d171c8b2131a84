-- `queuectl snooze`: how many times a job sent itself back to wait without spending a retry.
ALTER TABLE jobs ADD COLUMN snoozes integer NOT NULL DEFAULT 0;

-- Hooks (`hook add`): a job enqueued when a job meets one of the hook's events.
CREATE TABLE hooks (
    name       text    PRIMARY KEY,
    events     text    NOT NULL,              -- JSON array: completed, failed, dead, ...
    command    text    NOT NULL,
    queue      text,                          -- only jobs of this queue (NULL: any)
    cron       text,                          -- only jobs of this schedule (NULL: any)
    cwd        text    NOT NULL,              -- where its jobs run
    created_at bigint  NOT NULL
);
-- A hook's job: JSON {"name", "event", "job"}; its own events fire no hook.
ALTER TABLE jobs ADD COLUMN hook text;

-- A job meets an event (it completed, failed and will be retried, went dead, was cancelled,
-- or was taken back from a lost worker): one job per matching hook, in queue `hooks`, in
-- the transaction that made the change, whatever path made it; idle workers on every host
-- are woken. Its trigger (queries.sql: hooks_on) exists while some hook does. The hook job takes the config's max-retries and job-timeout, as a job
-- enqueued then would.
CREATE FUNCTION queuectl_fire_hooks() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    made bigint;
BEGIN
    PERFORM 1 FROM hooks LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    WITH made_jobs AS (
        INSERT INTO jobs (id, command, state, max_retries, priority, timeout, queue, cwd,
                          run_at, created_at, updated_at, hook)
        SELECT substr(md5(random()::text || clock_timestamp()::text || h.name), 1, 10),
               h.command, 'pending',
               coalesce((SELECT value::bigint FROM config WHERE key = 'max-retries'), 3), 0,
               (SELECT nullif(value::double precision, 0) FROM config
                WHERE key = 'job-timeout'),
               'hooks', h.cwd, queuectl_now_ms(), queuectl_now_ms(), queuectl_now_ms(),
               json_build_object('name', h.name, 'event', e.event, 'job', NEW.id)::text
        FROM hooks AS h
        JOIN (SELECT NEW.state AS event
              UNION ALL
              SELECT 'lost' WHERE NEW.last_error = 'worker lost'
                              AND OLD.state = 'processing') AS e
          ON h.events::jsonb ? e.event
        WHERE (h.queue IS NULL OR h.queue = NEW.queue)
          AND (h.cron IS NULL OR h.cron = NEW.cron)
        ORDER BY h.name, e.event
        RETURNING 1
    )
    SELECT count(*) INTO made FROM made_jobs;
    IF made > 0 THEN
        PERFORM pg_notify('queuectl', 'work');
    END IF;
    RETURN NULL;
END $$;
