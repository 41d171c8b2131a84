-- Dependencies by outcome: an edge's kind says which end of the dependency releases the
-- job: 'completed' (`--after`), 'any' (`--after-any`: completed, dead or cancelled) or
-- 'failure' (`--after-failure`: dead or cancelled; a completion cancels the job instead,
-- as not needed). The triggers fire on every write of attempts that ends a job (each end
-- writes it); they fire again for the jobs they cancel, which the store's connections
-- allow (PRAGMA recursive_triggers), so a chain follows to its end.
ALTER TABLE job_dependencies ADD COLUMN kind TEXT NOT NULL DEFAULT 'completed';
DROP TRIGGER jobs_release_dependents;
CREATE TRIGGER jobs_release_dependents AFTER UPDATE OF attempts ON jobs
    WHEN NEW.state = 'completed' AND OLD.state <> 'completed' AND NEW.has_dependents
BEGIN
    UPDATE jobs SET blocked_by = blocked_by - 1, updated_at = NEW.updated_at
    WHERE id IN (SELECT job_id FROM job_dependencies
                 WHERE depends_on = NEW.id AND kind <> 'failure')
      AND state = 'pending' AND blocked_by > 0;
    UPDATE jobs SET state = 'cancelled', finished_at = NEW.updated_at,
        updated_at = NEW.updated_at, held = 0, attempts = attempts,
        last_error = 'not needed: ''' || NEW.id || ''' completed'
    WHERE id IN (SELECT job_id FROM job_dependencies
                 WHERE depends_on = NEW.id AND kind = 'failure')
      AND state = 'pending' AND blocked_by > 0;
END;
CREATE TRIGGER jobs_outcome_dependents AFTER UPDATE OF attempts ON jobs
    WHEN NEW.state IN ('dead', 'cancelled') AND OLD.state <> NEW.state AND NEW.has_dependents
BEGIN
    UPDATE jobs SET blocked_by = blocked_by - 1, updated_at = NEW.updated_at
    WHERE id IN (SELECT job_id FROM job_dependencies
                 WHERE depends_on = NEW.id AND kind <> 'completed')
      AND state = 'pending' AND blocked_by > 0;
    UPDATE jobs SET state = 'cancelled', finished_at = NEW.updated_at,
        updated_at = NEW.updated_at, held = 0, attempts = attempts,
        last_error = 'dependency ''' || NEW.id || ''' cancelled'
    WHERE NEW.state = 'cancelled'
      AND id IN (SELECT job_id FROM job_dependencies
                 WHERE depends_on = NEW.id AND kind = 'completed')
      AND state = 'pending' AND blocked_by > 0;
END;
