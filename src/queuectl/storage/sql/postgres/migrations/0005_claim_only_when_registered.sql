-- Only a registered worker claims. A worker taken for lost (silent past the lease: its row
-- was removed and its job handed back) that comes back must register again before it takes
-- anything: a job it claimed meanwhile would be held by a worker that the store no longer
-- knows. queuectl_finish claims through this function, so a finish whose worker was taken
-- for lost still records the attempt (when the job's row says the worker holds it) and
-- claims nothing. The check is one primary-key probe inside the claim's statement: no
-- round trip more.
CREATE OR REPLACE FUNCTION queuectl_claim(p_worker text, p_queues text[]) RETURNS SETOF jobs
    LANGUAGE plpgsql AS $$
DECLARE
    job jobs;
BEGIN
    PERFORM 1 FROM workers WHERE id = p_worker;
    IF NOT FOUND THEN
        RETURN;
    END IF;
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
