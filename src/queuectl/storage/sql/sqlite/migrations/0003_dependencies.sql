-- Jobs that wait for other jobs (`enqueue --after`).
--
-- job_dependencies holds the edges (a job, one job it runs after), kept as given: a
-- dependency that is later purged stays listed in `after`. blocked_by counts the
-- dependencies of a pending job that have not completed yet; the ready indexes leave out
-- jobs with blocked_by > 0, so the claim never sees a waiting job and the claim of a job
-- without dependencies walks the same index entries as before. has_dependents marks a job
-- that some job runs after: only completing such a job releases anything, so a job without
-- dependents completes with no statement more than before.
CREATE TABLE job_dependencies (
    job_id     TEXT    NOT NULL,
    depends_on TEXT    NOT NULL,
    position   INTEGER NOT NULL,              -- order as the user gave them
    PRIMARY KEY (job_id, depends_on)
);
-- A completing job finds its dependents; a purge asks whether a job is still needed.
CREATE INDEX job_dependencies_depends_on ON job_dependencies (depends_on);

ALTER TABLE jobs ADD COLUMN blocked_by INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN has_dependents INTEGER NOT NULL DEFAULT 0;

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
-- records the completion (whatever path completes it), all of them in one statement.
CREATE TRIGGER jobs_release_dependents AFTER UPDATE OF state ON jobs
    WHEN NEW.state = 'completed' AND OLD.state <> 'completed' AND NEW.has_dependents
BEGIN
    UPDATE jobs SET blocked_by = blocked_by - 1, updated_at = NEW.updated_at
    WHERE id IN (SELECT job_id FROM job_dependencies WHERE depends_on = NEW.id)
      AND state = 'pending' AND blocked_by > 0;
END;
