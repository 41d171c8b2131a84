-- Jobs that wait for other jobs (`enqueue --after`).
--
-- job_dependencies holds the edges (a job, one job it runs after), kept as given: a
-- dependency that is later purged stays listed in `after`. blocked_by counts the
-- dependencies of a pending job that have not completed yet; the ready indexes leave out
-- jobs with blocked_by > 0, so the claim never sees a waiting job and the claim of a job
-- without dependencies walks the same index entries as before. has_dependents marks a job
-- that some job runs after: only completing such a job calls the release trigger, so a job
-- without dependents completes exactly as before (a WHEN clause is checked without calling
-- the function).
CREATE TABLE job_dependencies (
    job_id     text    NOT NULL,
    depends_on text    NOT NULL,
    position   integer NOT NULL,              -- order as the user gave them
    PRIMARY KEY (job_id, depends_on)
);
-- A completing job finds its dependents; a purge asks whether a job is still needed.
CREATE INDEX job_dependencies_depends_on ON job_dependencies (depends_on);

ALTER TABLE jobs ADD COLUMN blocked_by integer NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN has_dependents boolean NOT NULL DEFAULT false;

DROP INDEX jobs_ready;
DROP INDEX jobs_ready_queue;
DROP INDEX jobs_due;
CREATE INDEX jobs_ready ON jobs (priority DESC, run_at, seq)
    WHERE state IN ('pending', 'failed') AND blocked_by = 0;
CREATE INDEX jobs_ready_queue ON jobs (queue, priority DESC, run_at, seq)
    WHERE state IN ('pending', 'failed') AND blocked_by = 0;
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('pending', 'failed') AND blocked_by = 0;
-- `status` counts the waiting jobs from here.
CREATE INDEX jobs_blocked ON jobs (seq) WHERE state = 'pending' AND blocked_by > 0;

-- A dependency completes: its waiting dependents count one fewer, in the transaction that
-- records the completion (whatever path completes it), all of them in one statement; those
-- now free wake idle workers on every host (NOTIFY on the channel of pgconn.CHANNEL,
-- delivered on commit).
CREATE FUNCTION queuectl_release_dependents() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    freed bigint;
BEGIN
    WITH released AS (
        UPDATE jobs SET blocked_by = blocked_by - 1, updated_at = queuectl_now_ms()
        WHERE id IN (SELECT job_id FROM job_dependencies WHERE depends_on = NEW.id)
          AND state = 'pending' AND blocked_by > 0
        RETURNING blocked_by
    )
    SELECT count(*) INTO freed FROM released WHERE blocked_by = 0;
    IF freed > 0 THEN
        PERFORM pg_notify('queuectl', 'work');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_release_dependents AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.state = 'completed' AND OLD.state <> 'completed' AND NEW.has_dependents)
    EXECUTE FUNCTION queuectl_release_dependents();

-- The claim of migrations/0005, walking the ready indexes above (their predicate now says
-- blocked_by = 0, so the claim's WHERE must say it too for the planner to use them).
CREATE OR REPLACE FUNCTION queuectl_claim(p_worker text, p_queues text[]) RETURNS SETOF jobs
    LANGUAGE plpgsql AS $$
DECLARE
    job jobs;
BEGIN
    PERFORM 1 FROM workers WHERE id = p_worker;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_queues IS NULL OR cardinality(p_queues) = 0 THEN
        UPDATE jobs
        SET state = 'processing', worker = p_worker, runs = runs + 1,
            started_at = queuectl_now_ms(), finished_at = NULL, exit_code = NULL,
            updated_at = queuectl_now_ms()
        WHERE seq = (SELECT seq FROM jobs
                     WHERE state IN ('pending', 'failed') AND blocked_by = 0
                       AND run_at <= queuectl_now_ms()
                     ORDER BY priority DESC, run_at, seq LIMIT 1
                     FOR UPDATE SKIP LOCKED)
        RETURNING * INTO job;
    ELSE
        UPDATE jobs
        SET state = 'processing', worker = p_worker, runs = runs + 1,
            started_at = queuectl_now_ms(), finished_at = NULL, exit_code = NULL,
            updated_at = queuectl_now_ms()
        WHERE seq = (SELECT seq FROM jobs
                     WHERE state IN ('pending', 'failed') AND blocked_by = 0
                       AND run_at <= queuectl_now_ms() AND queue = ANY(p_queues)
                     ORDER BY priority DESC, run_at, seq LIMIT 1
                     FOR UPDATE SKIP LOCKED)
        RETURNING * INTO job;
    END IF;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN NEXT job;
END $$;
