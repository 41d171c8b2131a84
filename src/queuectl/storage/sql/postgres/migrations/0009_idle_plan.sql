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

-- A job held back by its queue's limit waited for a worker's timed poll (up to 5 s) when the
-- worker whose job freed the place claimed nothing of that queue (it was stopping, or its
-- next job came from another queue): the finish now wakes idle workers then. Also for the
-- previous version's workers, which call this with the same arguments.

-- End attempt p_runs of job p_id held by p_worker, which p_worker claimed at
-- p_started_at when the job was due at p_run_at: record the attempt (its outcome, error
-- and output; completing a row saved while it ran, leaving one a recovery already closed),
-- move the job to p_state (p_delay_ms NULL keeps run_at, otherwise due that many ms from
-- now), and with p_claim take the worker's next job. One statement, so one round trip and
-- one transaction per job boundary.
-- Returns up to two rows: the finished job (absent if the job is no longer processing for
-- p_worker: taken over) and the next job, told apart by state: a finished job is never
-- 'processing', a claimed one always is.
-- p_notify: a channel to NOTIFY 'work' on (NULL: none) when the job went back in the queue,
-- or when it ended in a queue with a limit and freed a place that this finish does not fill
-- itself (no next job of that queue): a job held back by the limit may wait for it.
CREATE OR REPLACE FUNCTION queuectl_finish(
    p_id text, p_worker text, p_runs integer, p_run_at bigint, p_started_at bigint,
    p_state text, p_attempts bigint, p_delay_ms bigint, p_exit_code integer,
    p_outcome text, p_attempt_error text, p_error text, p_output bytea, p_dropped bigint,
    p_claim boolean, p_queues text[], p_notify text
) RETURNS SETOF jobs
    LANGUAGE plpgsql AS $$
DECLARE
    done jobs;
    next_job jobs;
    job_queue text;
BEGIN
    INSERT INTO attempts AS a (job_id, number, worker, run_at, started_at, finished_at,
                               exit_code, outcome, error, output, output_dropped)
    VALUES (p_id, p_runs, p_worker, p_run_at, coalesce(p_started_at, queuectl_now_ms()),
            queuectl_now_ms(), p_exit_code, p_outcome, p_attempt_error, p_output,
            coalesce(p_dropped, 0))
    ON CONFLICT (job_id, number) DO UPDATE
    SET finished_at = excluded.finished_at, exit_code = excluded.exit_code,
        outcome = excluded.outcome, error = excluded.error,
        output = coalesce(p_output, a.output),
        output_dropped = coalesce(p_dropped, a.output_dropped)
    WHERE a.finished_at IS NULL;

    UPDATE jobs
    SET state = p_state, attempts = p_attempts,
        run_at = coalesce(queuectl_now_ms() + p_delay_ms, run_at),
        finished_at = queuectl_now_ms(), exit_code = p_exit_code, last_error = p_error,
        updated_at = queuectl_now_ms()
    WHERE id = p_id AND state = 'processing' AND worker = p_worker AND runs = p_runs
    RETURNING * INTO done;
    IF FOUND THEN
        IF p_notify IS NOT NULL AND p_delay_ms IS NOT NULL
           AND p_state IN ('pending', 'failed') THEN
            PERFORM pg_notify(p_notify, 'work');  -- delivered on commit
        END IF;
        RETURN NEXT done;
    END IF;

    IF p_claim THEN
        SELECT * INTO next_job FROM queuectl_claim(p_worker, p_queues);
        IF next_job.id IS NOT NULL THEN
            RETURN NEXT next_job;
        END IF;
    END IF;

    -- A freed place (a cancelled job's too: its attempt closed above). The first look reads
    -- the queues table alone, which is empty while no queue is paused or limited.
    IF p_notify IS NOT NULL THEN
        PERFORM 1 FROM queues LIMIT 1;
        IF FOUND THEN
            SELECT queue INTO job_queue FROM jobs WHERE id = p_id;
            PERFORM 1 FROM queues WHERE name = job_queue AND concurrency_limit IS NOT NULL;
            IF FOUND AND (next_job.id IS NULL OR next_job.queue <> job_queue) THEN
                PERFORM pg_notify(p_notify, 'work');  -- delivered on commit
            END IF;
        END IF;
    END IF;
END $$;

