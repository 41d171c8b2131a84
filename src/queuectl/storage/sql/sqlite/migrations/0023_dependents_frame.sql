-- The end of a job with dependents is handed to a trigger of its own (jobs_ended, a view
-- that stores nothing: its INSTEAD OF trigger is the work), so that the trigger every end
-- of a job fires is small: SQLite sets up a trigger's whole frame on every firing, whatever
-- its WHEN says, and the two UPDATEs of jobs that release and cancel dependents need
-- registers for two rows of jobs each (bench/RESULTS.md: instructions per job).
DROP TRIGGER jobs_release_dependents;
CREATE VIEW jobs_ended (id, state, at) AS SELECT NULL, NULL, NULL WHERE 0;
CREATE TRIGGER jobs_ended_release INSTEAD OF INSERT ON jobs_ended
BEGIN
    -- Released: by a completion, the --after and --after-any edges; by a death or a
    -- cancel, the --after-any and --after-failure ones.
    UPDATE jobs SET blocked_by = blocked_by - 1, updated_at = NEW.at
    WHERE id IN (SELECT job_id FROM job_dependencies
                 WHERE depends_on = NEW.id
                   AND CASE NEW.state WHEN 'completed' THEN kind <> 'failure'
                                      ELSE kind <> 'completed' END)
      AND state = 'pending' AND blocked_by > 0;
    -- Cancelled: by a completion, the --after-failure jobs (not needed); by a cancel, the
    -- --after ones.
    UPDATE jobs SET state = 'cancelled', finished_at = NEW.at,
        updated_at = NEW.at, held = 0, attempts = attempts,
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
CREATE TRIGGER jobs_release_dependents AFTER UPDATE OF attempts ON jobs
    WHEN NEW.has_dependents AND NEW.state <> OLD.state
     AND NEW.state IN ('completed', 'dead', 'cancelled')
BEGIN
    INSERT INTO jobs_ended (id, state, at) VALUES (NEW.id, NEW.state, NEW.updated_at);
END;
