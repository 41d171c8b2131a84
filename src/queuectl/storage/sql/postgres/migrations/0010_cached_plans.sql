-- Two functions that run often move from LANGUAGE sql to plpgsql, which keeps the plans
-- of its statements for the life of the session: PostgreSQL plans the statements of a SQL
-- function that it cannot inline afresh at every call. queuectl_idle_plan runs in every
-- claim that takes nothing (an idle worker's timed poll, a worker woken for a job that
-- another one took): an order of magnitude less server CPU per call as plpgsql
-- (bench/RESULTS.md). queuectl_fold_counts runs in every pool's recovery pass. Same arguments and results:
-- the previous version's workers call them as before.

-- {"due_ms": ms until the earliest claimable job of p_queues (NULL or empty: all) is due
-- (NULL: none waits), "held": false, "tick_ms": ms until the next tick of a schedule
-- (NULL: none)}. Jobs of blocked queues (paused, or running their limit) are not waited
-- for: a freed place or a resume wakes a worker. ("held" said whether a due job waited for
-- a limit, and made workers poll; it stays, false, for the previous version's workers.)
-- VOLATILE, so that it reads with a snapshot of its own: called after a finish in the same
-- statement, it sees that finish's retry and the dependents it released (a STABLE function
-- reads the calling statement's snapshot, taken before it).
CREATE OR REPLACE FUNCTION queuectl_idle_plan(p_queues text[]) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    RETURN jsonb_build_object(
        'due_ms', (SELECT min(run_at) - queuectl_now_ms() FROM jobs
                   WHERE state IN ('pending', 'failed') AND blocked_by = 0
                     AND (coalesce(cardinality(p_queues), 0) = 0 OR queue = ANY(p_queues))
                     AND queue NOT IN (SELECT name FROM queues_blocked)),
        'held', false,
        'tick_ms', (SELECT min(next_run_at) - queuectl_now_ms() FROM cron_schedules
                    WHERE NOT paused));
END $$;

-- Fold job_counts' deltas into one row per state when there are more than p_min_rows of
-- them; returns how many rows it folded (see 0003_job_counts.sql).
CREATE OR REPLACE FUNCTION queuectl_fold_counts(p_min_rows bigint) RETURNS bigint
    LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    WITH many AS (SELECT count(*) > p_min_rows AS yes
                  FROM (SELECT 1 FROM job_counts LIMIT p_min_rows + 1) AS some_rows),
         gone AS (DELETE FROM job_counts WHERE (SELECT yes FROM many) RETURNING state, n),
         kept AS (INSERT INTO job_counts (state, n)
                  SELECT state, sum(n) FROM gone GROUP BY state HAVING sum(n) <> 0)
    SELECT count(*) INTO folded FROM gone;
    RETURN folded;
END $$;
