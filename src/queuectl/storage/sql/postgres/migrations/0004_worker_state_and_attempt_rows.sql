-- Two changes to what the worker's hot path writes, as in the SQLite store:
--
-- 1. Whether a worker is busy, and with which job, is read from the jobs it holds (the
--    processing jobs naming it, found through jobs_held) instead of being kept in its row
--    (see queries.sql, all_workers). The row was updated at every job boundary, a dead
--    tuple and a WAL record per job, and could disagree with the jobs table; now it
--    changes only with a heartbeat.
-- 2. An attempt's row is written when the attempt ends (queries.sql, record_attempt).
--    Opening it at the claim and closing it at the finish were an insert and an update per
--    job, each a new tuple and new entries in the attempts indexes. A running attempt is
--    described by its job row until then; `attempts` and `read_output` read it from there,
--    `save_output` and a cancel of a running job make its row early.
--
-- Workers of the previous version may still be running while this one is installed: the
-- columns workers.state and current_job stay (no longer read), and their queuectl_finish
-- (the 15 parameters of 0002) stays too, rewritten to record the attempt the new way.

-- Take the best ready job for p_worker (p_queues NULL or empty: any queue): 0002's,
-- without marking the worker busy or opening the attempt.
CREATE OR REPLACE FUNCTION queuectl_claim(p_worker text, p_queues text[]) RETURNS SETOF jobs
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
    RETURN NEXT job;
END $$;

-- End attempt p_runs of job p_id held by p_worker, which p_worker claimed at p_started_at
-- when the job was due at p_run_at: record the attempt (its outcome, error and output;
-- completing a row saved while it ran, leaving one a recovery already closed), move the
-- job to p_state (p_delay_ms NULL keeps run_at, otherwise due that many ms from now), and
-- with p_claim take the worker's next job.
-- Returns up to two rows: the finished job (absent if the job is no longer processing for
-- p_worker: taken over) and the next job, told apart by state: a finished job is never
-- 'processing', a claimed one always is.
-- p_notify: a channel to NOTIFY 'work' on when the job went back in the queue (NULL: none).
CREATE FUNCTION queuectl_finish(
    p_id text, p_worker text, p_runs integer, p_run_at bigint, p_started_at bigint,
    p_state text, p_attempts bigint, p_delay_ms bigint, p_exit_code integer,
    p_outcome text, p_attempt_error text, p_error text, p_output bytea, p_dropped bigint,
    p_claim boolean, p_queues text[], p_notify text
) RETURNS SETOF jobs
    LANGUAGE plpgsql AS $$
DECLARE
    done jobs;
    next_job jobs;
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
END $$;

-- The previous version's queuectl_finish, for its workers still running: the same steps,
-- with the attempt as claimed read from the job row (before the call can change it).
CREATE OR REPLACE FUNCTION queuectl_finish(
    p_id text, p_worker text, p_runs integer, p_state text, p_attempts bigint,
    p_delay_ms bigint, p_exit_code integer, p_outcome text, p_attempt_error text,
    p_error text, p_output bytea, p_dropped bigint, p_claim boolean, p_queues text[],
    p_notify text
) RETURNS SETOF jobs
    LANGUAGE plpgsql AS $$
DECLARE
    claimed_run_at bigint;
    claimed_at bigint;
BEGIN
    SELECT run_at, started_at INTO claimed_run_at, claimed_at
    FROM jobs WHERE id = p_id AND runs = p_runs;
    RETURN QUERY SELECT * FROM queuectl_finish(
        p_id, p_worker, p_runs, claimed_run_at, claimed_at, p_state, p_attempts, p_delay_ms,
        p_exit_code, p_outcome, p_attempt_error, p_error, p_output, p_dropped, p_claim,
        p_queues, p_notify);
END $$;
