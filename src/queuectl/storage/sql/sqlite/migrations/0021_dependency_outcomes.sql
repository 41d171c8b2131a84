-- Dependencies by outcome: an edge's kind says which end of the dependency releases the
-- job: 'completed' (`--after`), 'any' (`--after-any`: completed, dead or cancelled) or
-- 'failure' (`--after-failure`: dead or cancelled; a completion cancels the job instead,
-- as not needed). One trigger does it all, so that a job without dependents (the usual
-- one) costs one WHEN: it fires on every write of attempts that ends a job (each end
-- writes it), and again for the jobs it cancels, which the store's connections allow
-- (PRAGMA recursive_triggers), so a chain follows to its end.
ALTER TABLE job_dependencies ADD COLUMN kind TEXT NOT NULL DEFAULT 'completed';
DROP TRIGGER jobs_release_dependents;
CREATE TRIGGER jobs_release_dependents AFTER UPDATE OF attempts ON jobs
    WHEN NEW.has_dependents AND NEW.state <> OLD.state
     AND NEW.state IN ('completed', 'dead', 'cancelled')
BEGIN
    -- Released: by a completion, the --after and --after-any edges; by a death or a
    -- cancel, the --after-any and --after-failure ones.
    UPDATE jobs SET blocked_by = blocked_by - 1, updated_at = NEW.updated_at
    WHERE id IN (SELECT job_id FROM job_dependencies
                 WHERE depends_on = NEW.id
                   AND CASE NEW.state WHEN 'completed' THEN kind <> 'failure'
                                      ELSE kind <> 'completed' END)
      AND state = 'pending' AND blocked_by > 0;
    -- Cancelled: by a completion, the --after-failure jobs (not needed); by a cancel, the
    -- --after ones.
    UPDATE jobs SET state = 'cancelled', finished_at = NEW.updated_at,
        updated_at = NEW.updated_at, held = 0, attempts = attempts,
        last_error = CASE NEW.state
                         WHEN 'completed' THEN 'not needed: ''' || NEW.id || ''' completed'
                         ELSE 'dependency ''' || NEW.id || ''' cancelled' END
    WHERE NEW.state IN ('completed', 'cancelled')
      AND id IN (SELECT job_id FROM job_dependencies
                 WHERE depends_on = NEW.id
                   AND kind = CASE NEW.state WHEN 'completed' THEN 'failure'
                                             ELSE 'completed' END)
      AND state = 'pending' AND blocked_by > 0;
END;
