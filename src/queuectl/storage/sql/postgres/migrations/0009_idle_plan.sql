-- What an idle worker plans its sleep by, read in the statement of the claim or finish
-- that found it nothing to do (queries.sql claim_any, finish_job): a worker woken for a
-- job that another worker took sleeps again on one transaction, not two.

-- {"due_ms": ms until the earliest waiting job of p_queues (NULL or empty: all) is due
-- (NULL: none waits), "held": whether a due job waits for a limit of a queue served (a job
-- ending elsewhere frees a place: the worker looks again soon), "tick_ms": ms until the
-- next tick of a schedule (NULL: none)}. Jobs of blocked queues (paused, or running their
-- limit) are not waited for. VOLATILE, so that it reads with a snapshot of its own: called
-- after a finish in the same statement, it sees that finish's retry and the dependents it
-- released (a STABLE function reads the calling statement's snapshot, taken before it).
CREATE FUNCTION queuectl_idle_plan(p_queues text[]) RETURNS jsonb
    LANGUAGE sql VOLATILE
    AS $$
SELECT jsonb_build_object(
    'due_ms', (SELECT min(run_at) - queuectl_now_ms() FROM jobs
               WHERE state IN ('pending', 'failed') AND blocked_by = 0
                 AND (coalesce(cardinality(p_queues), 0) = 0 OR queue = ANY(p_queues))
                 AND queue NOT IN (SELECT name FROM queues_blocked)),
    'held', EXISTS (SELECT 1 FROM queues_blocked AS b JOIN queues USING (name)
                    WHERE NOT queues.paused
                      AND (coalesce(cardinality(p_queues), 0) = 0 OR name = ANY(p_queues))
                      AND EXISTS (SELECT 1 FROM jobs
                                  WHERE queue = b.name AND state IN ('pending', 'failed')
                                    AND blocked_by = 0 AND run_at <= queuectl_now_ms())),
    'tick_ms', (SELECT min(next_run_at) - queuectl_now_ms() FROM cron_schedules
                WHERE NOT paused)) $$;
