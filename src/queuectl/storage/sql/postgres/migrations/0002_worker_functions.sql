-- The worker's hot path as server-side functions: a claim (take the job, open its attempt,
-- mark the worker busy) and a finish (close the attempt, move the job on, the worker's
-- row, and optionally the next claim) are each ONE statement, so one round trip and one
-- transaction, where they were three statements in one or two transactions. A worker
-- between two `true` jobs waited on ~10 round trips and two commits; now on one.
-- The statements inside are planned once per connection (PL/pgSQL caches them).

-- Take the best ready job for p_worker (p_queues NULL or empty: any queue).
-- Returns the claimed job, or no row.
CREATE FUNCTION queuectl_claim(p_worker text, p_queues text[]) RETURNS SETOF jobs
    LANGUAGE plpgsql AS $$
DECLARE
    job jobs;
BEGIN
    -- Two statements rather than one with "queues empty OR queue = ANY": each keeps its
    -- own plan, walking jobs_ready or jobs_ready_queue in claim order.
    -- SKIP LOCKED: concurrent claimers pass over a row another one is taking instead of
    -- queueing behind it.
    IF p_queues IS NULL OR cardinality(p_queues) = 0 THEN
        UPDATE jobs
        SET state = 'processing', worker = p_worker, runs = runs + 1,
            started_at = queuectl_now_ms(), finished_at = NULL, exit_code = NULL,
            updated_at = queuectl_now_ms()
        WHERE seq = (SELECT seq FROM jobs
                     WHERE state IN ('pending', 'failed') AND run_at <= queuectl_now_ms()
                     ORDER BY priority DESC, run_at, seq LIMIT 1
                     FOR UPDATE SKIP LOCKED)
        RETURNING * INTO job;
    ELSE
        UPDATE jobs
        SET state = 'processing', worker = p_worker, runs = runs + 1,
            started_at = queuectl_now_ms(), finished_at = NULL, exit_code = NULL,
            updated_at = queuectl_now_ms()
        WHERE seq = (SELECT seq FROM jobs
                     WHERE state IN ('pending', 'failed') AND run_at <= queuectl_now_ms()
                       AND queue = ANY(p_queues)
                     ORDER BY priority DESC, run_at, seq LIMIT 1
                     FOR UPDATE SKIP LOCKED)
        RETURNING * INTO job;
    END IF;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO attempts (job_id, number, worker, run_at, started_at)
    VALUES (job.id, job.runs, p_worker, job.run_at, queuectl_now_ms());
    UPDATE workers SET state = 'busy', current_job = job.id WHERE id = p_worker;
    RETURN NEXT job;
END $$;

-- End attempt p_runs of job p_id held by p_worker: close the attempt (its outcome, error
-- and output), move the job to p_state (p_delay_ms NULL keeps run_at, otherwise due that
-- many ms from now), set the worker idle, and with p_claim take its next job.
-- Returns up to two rows: the finished job (absent if the job is no longer processing for
-- p_worker: taken over) and the next job, told apart by state: a finished job is never
-- 'processing', a claimed one always is.
-- p_notify: a channel to NOTIFY 'work' on when the job went back in the queue (NULL: none).
CREATE FUNCTION queuectl_finish(
    p_id text, p_worker text, p_runs integer, p_state text, p_attempts bigint,
    p_delay_ms bigint, p_exit_code integer, p_outcome text, p_attempt_error text,
    p_error text, p_output bytea, p_dropped bigint, p_claim boolean, p_queues text[],
    p_notify text
) RETURNS SETOF jobs
    LANGUAGE plpgsql AS $$
DECLARE
    done jobs;
    next_job jobs;
BEGIN
    UPDATE attempts
    SET finished_at = queuectl_now_ms(), exit_code = p_exit_code, outcome = p_outcome,
        error = p_attempt_error, output = coalesce(p_output, output),
        output_dropped = coalesce(p_dropped, output_dropped)
    WHERE job_id = p_id AND number = p_runs AND finished_at IS NULL;

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
        -- Marks the worker busy when it takes a job.
        SELECT * INTO next_job FROM queuectl_claim(p_worker, p_queues);
        IF next_job.id IS NOT NULL THEN
            RETURN NEXT next_job;
            RETURN;
        END IF;
    END IF;
    UPDATE workers SET state = 'idle', current_job = NULL
    WHERE id = p_worker AND state = 'busy';
END $$;
