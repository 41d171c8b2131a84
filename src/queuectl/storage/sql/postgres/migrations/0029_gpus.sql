-- GPUs: `worker start --gpus LIST` (the pool owns these GPUs of its host) and
-- `enqueue --gpus N` (the job runs only in a pool with N of its GPUs free).
-- A job that asks for GPUs counts one more in blocked_by (as a held one does): the
-- ordinary claim's indexes leave it out, so pools without GPUs never see it and their
-- claim costs what it did; a pool with GPUs looks for it in jobs_gpu_ready
-- (queuectl_claim_gpu).
ALTER TABLE jobs ADD COLUMN gpus integer;          -- GPUs asked for; NULL: none
ALTER TABLE jobs ADD COLUMN gpus_assigned text;    -- JSON array of the GPU indexes given
ALTER TABLE workers ADD COLUMN gpus text;          -- JSON array: its pool's GPUs; NULL: none

-- The GPU jobs ready but for a GPU (blocked_by counts only their GPU), in claim order.
CREATE INDEX jobs_gpu_ready ON jobs (priority DESC, run_at, seq)
    WHERE gpus IS NOT NULL AND state IN ('pending', 'failed') AND blocked_by = 1;

-- Each host's GPUs that some pool owns (rows made as its workers register), and the
-- attempt last given each one. A GPU is busy while that attempt runs (gpus_busy), so every
-- end of an attempt (a finish, a recovery, a cancel whose process has ended, a snooze, the
-- job deleted) frees it with no write of its own. The claim of a GPU job takes the host's
-- GPU lock (a transaction-scoped advisory lock, waited for: GPU claims of one host are
-- few and short), then reads the free GPUs of its pool in a statement of its own (a new
-- snapshot: every GPU claim committed before is seen) and marks those it gives, in one
-- transaction: no GPU is given to two running jobs of a host, whatever pools share it.
CREATE TABLE gpus (
    host    text    NOT NULL,                 -- the worker's host id (workers.host)
    gpu     integer NOT NULL,                 -- its index, as nvidia-smi numbers it
    job_id  text,                             -- the job last given it
    attempt integer,                          -- that job's attempt (jobs.runs)
    PRIMARY KEY (host, gpu)
);

-- The GPUs in use: given to an attempt that still runs, or whose job was cancelled while
-- it ran and whose process has not ended yet (its attempt's row, opened by the cancel, is
-- still open).
CREATE VIEW gpus_busy AS
SELECT g.host, g.gpu, g.job_id FROM gpus g JOIN jobs j ON j.id = g.job_id AND j.runs = g.attempt
WHERE j.state = 'processing'
   OR (j.state = 'cancelled' AND EXISTS (SELECT 1 FROM attempts a
                                         WHERE a.job_id = j.id AND a.number = j.runs
                                           AND a.finished_at IS NULL));

-- The claim of a GPU job by p_worker (p_queues empty: any queue) whose pool has p_free GPUs
-- free: the best ready GPU job asking for at most that many, under the flow control of
-- queuectl_claim_steered (a paused, full, rated or closed queue; a held mutex), with the
-- same locks. Returns the claimed job, or no row; the caller gives it its GPUs.
CREATE FUNCTION queuectl_claim_gpu(p_worker text, p_queues text[], p_free integer)
    RETURNS SETOF jobs
    LANGUAGE plpgsql AS $$
DECLARE
    job jobs;
    skip text[];
    busy text[];
    pick record;
    q queues;
    locked boolean := false;
BEGIN
    PERFORM 1 FROM workers WHERE id = p_worker;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT coalesce(array_agg(name), '{}') INTO skip FROM queues_blocked;
    SELECT coalesce(array_agg(mutex), '{}') INTO busy FROM mutexes_held;
    LOOP
        SELECT seq, queue, mutex INTO pick FROM jobs
        WHERE gpus IS NOT NULL AND state IN ('pending', 'failed') AND blocked_by = 1
          AND run_at <= queuectl_now_ms() AND gpus <= p_free
          AND (cardinality(p_queues) = 0 OR queue = ANY(p_queues))
          AND queue <> ALL(skip)
          AND (mutex IS NULL OR mutex <> ALL(busy))
        ORDER BY priority DESC, run_at, seq LIMIT 1
        FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        PERFORM 1 FROM queues WHERE name = pick.queue;
        IF FOUND THEN
            IF locked THEN
                skip := skip || ARRAY(SELECT name FROM queues);
                CONTINUE;
            END IF;
            locked := true;
            SELECT * INTO q FROM queues WHERE name = pick.queue FOR UPDATE;
            IF FOUND AND (q.paused OR (q.concurrency_limit IS NOT NULL
                    AND q.concurrency_limit <= queuectl_queue_running(pick.queue))
                    OR q.rate_count <= queuectl_queue_starts(pick.queue, q.rate_ms)) THEN
                skip := skip || pick.queue;
                CONTINUE;
            END IF;
        END IF;
        IF pick.mutex IS NOT NULL THEN
            IF NOT pg_try_advisory_xact_lock(hashtextextended('queuectl mutex ' || pick.mutex, 0))
            THEN
                busy := busy || pick.mutex;
                CONTINUE;
            END IF;
            PERFORM 1 FROM mutexes_held WHERE mutex = pick.mutex;
            IF FOUND THEN
                busy := busy || pick.mutex;
                CONTINUE;
            END IF;
        END IF;
        UPDATE jobs
        SET state = 'processing', worker = p_worker, runs = runs + 1,
            started_at = queuectl_clock_ms(),
            finished_at = NULL, exit_code = NULL, updated_at = queuectl_now_ms()
        WHERE seq = pick.seq
        RETURNING * INTO job;
        IF q.rate_count IS NOT NULL AND q.name = job.queue THEN
            DELETE FROM queue_starts
            WHERE queue = job.queue AND started_at <= job.started_at - q.rate_ms;
            INSERT INTO queue_starts (queue, started_at) VALUES (job.queue, job.started_at);
        END IF;
        RETURN NEXT job;
        RETURN;
    END LOOP;
END $$;

-- The end of an attempt that was given GPUs frees them: the triggers that wake an idle
-- worker when a mutex is freed (migrations/0017) wake one for a GPU job that waited too, and
-- a job cancelled while it ran frees them when its attempt's row closes. (The same triggers,
-- not more of them: every claim and finish of every job passes their WHEN.)
DROP TRIGGER jobs_mutex_freed ON jobs;
CREATE TRIGGER jobs_mutex_freed AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state = 'processing' AND NEW.state <> 'processing'
                       AND (OLD.mutex IS NOT NULL OR OLD.gpus_assigned IS NOT NULL))
    EXECUTE FUNCTION queuectl_mutex_freed();

CREATE OR REPLACE FUNCTION queuectl_mutex_freed_by_attempt() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM jobs WHERE id = NEW.job_id AND state = 'cancelled'
                          AND (mutex IS NOT NULL OR gpus_assigned IS NOT NULL);
    IF FOUND THEN
        PERFORM pg_notify('queuectl', 'work');
    END IF;
    RETURN NULL;
END $$;
