-- Dependencies by outcome: an edge's kind says which end of the dependency releases the
-- job: 'completed' (`--after`), 'any' (`--after-any`: completed, dead or cancelled) or
-- 'failure' (`--after-failure`: dead or cancelled; a completion cancels the job instead,
-- as not needed).
ALTER TABLE job_dependencies ADD COLUMN kind text NOT NULL DEFAULT 'completed';

-- A dependency completes: those waiting for its completion or any end count one fewer;
-- those waiting for its failure are cancelled, not needed.
CREATE OR REPLACE FUNCTION queuectl_release_dependents() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    freed bigint;
BEGIN
    WITH released AS (
        UPDATE jobs SET blocked_by = blocked_by - 1, updated_at = queuectl_now_ms()
        WHERE id IN (SELECT job_id FROM job_dependencies
                     WHERE depends_on = NEW.id AND kind <> 'failure')
          AND state = 'pending' AND blocked_by > 0
        RETURNING blocked_by
    )
    SELECT count(*) INTO freed FROM released WHERE blocked_by = 0;
    UPDATE jobs SET state = 'cancelled', finished_at = queuectl_now_ms(),
        updated_at = queuectl_now_ms(), held = false,
        last_error = 'not needed: ''' || NEW.id || ''' completed'
    WHERE id IN (SELECT job_id FROM job_dependencies
                 WHERE depends_on = NEW.id AND kind = 'failure')
      AND state = 'pending' AND blocked_by > 0;
    IF freed > 0 THEN
        PERFORM pg_notify('queuectl', 'work');
    END IF;
    RETURN NULL;
END $$;

-- A dependency ends dead or cancelled: the jobs waiting for any end, or for a failure,
-- count one fewer; on a cancel, those waiting for its completion are cancelled (their
-- own updates fire these triggers in turn, so a chain follows to its end).
CREATE FUNCTION queuectl_outcome_dependents() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    freed bigint;
BEGIN
    WITH released AS (
        UPDATE jobs SET blocked_by = blocked_by - 1, updated_at = queuectl_now_ms()
        WHERE id IN (SELECT job_id FROM job_dependencies
                     WHERE depends_on = NEW.id AND kind <> 'completed')
          AND state = 'pending' AND blocked_by > 0
        RETURNING blocked_by
    )
    SELECT count(*) INTO freed FROM released WHERE blocked_by = 0;
    IF NEW.state = 'cancelled' THEN
        UPDATE jobs SET state = 'cancelled', finished_at = queuectl_now_ms(),
            updated_at = queuectl_now_ms(), held = false,
            last_error = 'dependency ''' || NEW.id || ''' cancelled'
        WHERE id IN (SELECT job_id FROM job_dependencies
                     WHERE depends_on = NEW.id AND kind = 'completed')
          AND state = 'pending' AND blocked_by > 0;
    END IF;
    IF freed > 0 THEN
        PERFORM pg_notify('queuectl', 'work');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_outcome_dependents AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.state IN ('dead', 'cancelled') AND OLD.state <> NEW.state
                       AND NEW.has_dependents)
    EXECUTE FUNCTION queuectl_outcome_dependents();
