-- `enqueue --mutex NAME`: at most one job holding NAME runs at once, across every host.
ALTER TABLE jobs ADD COLUMN mutex text;

-- The running jobs that hold a mutex (never more of them than workers), and the ready ones:
-- the claim looks for one of those before it takes the steered path (an empty index while
-- no waiting job holds a mutex).
CREATE INDEX jobs_mutex_running ON jobs (mutex) WHERE mutex IS NOT NULL AND state = 'processing';
CREATE INDEX jobs_mutex_ready ON jobs (seq)
    WHERE mutex IS NOT NULL AND state IN ('pending', 'failed') AND blocked_by = 0;

-- The mutexes held now: by a running job, or by one cancelled while it ran whose process has
-- not ended yet (its attempt's row, opened by the cancel, is still open: the worker grants a
-- grace before SIGKILL). A lost worker's job frees its mutex when it is recovered.
CREATE VIEW mutexes_held AS
SELECT mutex FROM jobs WHERE mutex IS NOT NULL AND state = 'processing'
UNION ALL
SELECT j.mutex FROM attempts a JOIN jobs j ON j.id = a.job_id
WHERE a.finished_at IS NULL AND j.state = 'cancelled' AND j.mutex IS NOT NULL;

-- migrations/0008's claim with one more reason to take the steered path (marked "mutexes"):
-- a ready job that holds a mutex. Without one, the claim is as before plus one look at an
-- empty index.
CREATE OR REPLACE FUNCTION queuectl_claim(p_worker text, p_queues text[]) RETURNS SETOF jobs
    LANGUAGE plpgsql AS $$
DECLARE
    job jobs;
BEGIN
    PERFORM 1 FROM workers WHERE id = p_worker;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- queues: some queue is paused or limited.
    PERFORM 1 FROM queues LIMIT 1;
    IF NOT FOUND THEN
        -- mutexes: some ready job holds a mutex.
        PERFORM 1 FROM jobs
        WHERE mutex IS NOT NULL AND state IN ('pending', 'failed') AND blocked_by = 0 LIMIT 1;
    END IF;
    IF FOUND THEN
        RETURN QUERY SELECT * FROM queuectl_claim_steered(p_worker, coalesce(p_queues, '{}'));
        RETURN;
    END IF;
    IF p_queues IS NULL OR cardinality(p_queues) = 0 THEN
        UPDATE jobs
        SET state = 'processing', worker = p_worker, runs = runs + 1,
            started_at = queuectl_clock_ms(), finished_at = NULL, exit_code = NULL,
            updated_at = queuectl_now_ms()
        WHERE seq = (SELECT seq FROM jobs
                     WHERE state IN ('pending', 'failed') AND blocked_by = 0
                       AND run_at <= queuectl_now_ms()
                     ORDER BY priority DESC, run_at, seq LIMIT 1
                     FOR UPDATE SKIP LOCKED)
        RETURNING * INTO job;
    ELSE
        UPDATE jobs
        SET state = 'processing', worker = p_worker, runs = runs + 1,
            started_at = queuectl_clock_ms(), finished_at = NULL, exit_code = NULL,
            updated_at = queuectl_now_ms()
        WHERE seq = (SELECT seq FROM jobs
                     WHERE state IN ('pending', 'failed') AND blocked_by = 0
                       AND run_at <= queuectl_now_ms() AND queue = ANY(p_queues)
                     ORDER BY priority DESC, run_at, seq LIMIT 1
                     FOR UPDATE SKIP LOCKED)
        RETURNING * INTO job;
    END IF;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN NEXT job;
END $$;

-- The claim while some queue is paused or limited, or some ready job holds a mutex.
-- Queues: a limit of N is never exceeded: the claim of a job in a queue that has a row locks
-- that row (FOR UPDATE) and counts the queue's processing jobs after the lock is granted
-- (each statement of a plpgsql function takes a new snapshot in READ COMMITTED, so it sees
-- every claim committed before it), so claims of one paused or limited queue are serialized
-- while other queues' claims never wait. A claim locks at most one queue row: after one
-- that turned out full or paused it passes over every paused or limited queue, so two
-- claimers never wait on each other's queue rows.
-- Mutexes: the claim of a job holding mutex M takes a transaction-scoped advisory lock on M
-- and, once it has it, reads whether a job holds M (a new snapshot again: every claim of M
-- committed before is seen), so claims of one mutex are serialized. The lock is only ever
-- tried, never waited for: a claimer that finds it taken passes over M, as over a held one
-- (another claimer is deciding on M), so no two claimers wait on each other.
CREATE OR REPLACE FUNCTION queuectl_claim_steered(p_worker text, p_queues text[])
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
    SELECT coalesce(array_agg(name), '{}') INTO skip FROM queues_blocked;
    SELECT coalesce(array_agg(mutex), '{}') INTO busy FROM mutexes_held;
    LOOP
        SELECT seq, queue, mutex INTO pick FROM jobs
        WHERE state IN ('pending', 'failed') AND blocked_by = 0
          AND run_at <= queuectl_now_ms()
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
                    AND q.concurrency_limit <= queuectl_queue_running(pick.queue))) THEN
                skip := skip || pick.queue;
                CONTINUE;
            END IF;
        END IF;
        IF pick.mutex IS NOT NULL THEN  -- mutexes
            IF NOT pg_try_advisory_xact_lock(hashtextextended('queuectl mutex ' || pick.mutex, 0))
            THEN
                busy := busy || pick.mutex;
                CONTINUE;
            END IF;
            PERFORM 1 FROM mutexes_held WHERE mutex = pick.mutex;  -- after the lock: see above
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
        RETURN NEXT job;
        RETURN;
    END LOOP;
END $$;

-- migrations/0010's plan: a job whose mutex is held is not waited for either (the end of
-- the holder's attempt wakes a worker: queuectl_mutex_freed below).
CREATE OR REPLACE FUNCTION queuectl_idle_plan(p_queues text[]) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    RETURN jsonb_build_object(
        'due_ms', (SELECT min(run_at) - queuectl_now_ms() FROM jobs
                   WHERE state IN ('pending', 'failed') AND blocked_by = 0
                     AND (coalesce(cardinality(p_queues), 0) = 0 OR queue = ANY(p_queues))
                     AND queue NOT IN (SELECT name FROM queues_blocked)
                     AND (mutex IS NULL OR mutex NOT IN (SELECT mutex FROM mutexes_held))),
        'held', false,
        'tick_ms', (SELECT min(next_run_at) - queuectl_now_ms() FROM cron_schedules
                    WHERE NOT paused));
END $$;

-- The end of an attempt of a job that holds a mutex (a finish, a recovery, or the end of a
-- job cancelled while it ran) frees the mutex: an idle worker is woken (delivered on commit)
-- for a job that waited for it. The triggers' WHEN leaves every other job's end alone.
CREATE FUNCTION queuectl_mutex_freed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('queuectl', 'work');
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_mutex_freed AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state = 'processing' AND NEW.state <> 'processing'
                       AND OLD.mutex IS NOT NULL)
    EXECUTE FUNCTION queuectl_mutex_freed();

-- A job cancelled while it ran holds its mutex until its attempt's row, opened by the
-- cancel, is closed (rows are opened while a job runs only by a cancel or saved output).
CREATE FUNCTION queuectl_mutex_freed_by_attempt() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM jobs WHERE id = NEW.job_id AND state = 'cancelled' AND mutex IS NOT NULL;
    IF FOUND THEN
        PERFORM pg_notify('queuectl', 'work');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER attempts_mutex_freed AFTER UPDATE OF finished_at ON attempts
    FOR EACH ROW WHEN (OLD.finished_at IS NULL AND NEW.finished_at IS NOT NULL)
    EXECUTE FUNCTION queuectl_mutex_freed_by_attempt();
