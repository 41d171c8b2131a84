-- The release of a completed job's dependents fires on the writes that end an attempt
-- (every one writes attempts, the count of attempts finished), no longer on every write of
-- state: a claim writes state too, and each firing of a trigger costs SQLite a
-- sub-program's frame, even when its WHEN is false (~11,000 instructions of a worker's
-- ~650,000 per job).
DROP TRIGGER jobs_release_dependents;
CREATE TRIGGER jobs_release_dependents AFTER UPDATE OF attempts ON jobs
    WHEN NEW.state = 'completed' AND OLD.state <> 'completed' AND NEW.has_dependents
BEGIN
    UPDATE jobs SET blocked_by = blocked_by - 1, updated_at = NEW.updated_at
    WHERE id IN (SELECT job_id FROM job_dependencies WHERE depends_on = NEW.id)
      AND state = 'pending' AND blocked_by > 0;
END;
