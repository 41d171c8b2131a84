-- `queue rate Q N/DUR`: at most N jobs of Q start in any window of DUR, across every host.
ALTER TABLE queues ADD COLUMN rate_count bigint;  -- N; NULL: no rate
ALTER TABLE queues ADD COLUMN rate_ms bigint;     -- DUR in ms

-- The starts of each rated queue's jobs within its window (older ones are deleted as new
-- ones come). A rated queue has a row in queues, so its claims take the steered path, which
-- locks that row before it counts these: the rate is never exceeded. Queues without a rate
-- write nothing here.
CREATE TABLE queue_starts (
    queue      text   NOT NULL,
    started_at bigint NOT NULL
);
CREATE INDEX queue_starts_queue ON queue_starts (queue, started_at);

-- How many jobs of queue p_queue started in the last p_window_ms, by the clock a claim
-- stamps a start with.
CREATE FUNCTION queuectl_queue_starts(p_queue text, p_window_ms bigint) RETURNS bigint
    LANGUAGE sql VOLATILE
    AS $$ SELECT count(*) FROM queue_starts
          WHERE queue = p_queue AND started_at > queuectl_clock_ms() - p_window_ms $$;

-- The queues no claim may take from right now, as a first look without locks: paused,
-- running as many jobs as their limit, or started as many as their rate allows.
CREATE OR REPLACE VIEW queues_blocked AS
SELECT name FROM queues
WHERE paused
   OR (concurrency_limit IS NOT NULL AND concurrency_limit <= queuectl_queue_running(name))
   OR rate_count <= queuectl_queue_starts(name, rate_ms);

-- migrations/0017's steered claim with a rate's check under the queue row's lock, and the
-- claimed job's start recorded (both marked "rates").
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
            -- rates: as many starts in the window as the rate allows
            IF FOUND AND q.rate_count <= queuectl_queue_starts(pick.queue, q.rate_ms) THEN
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
        IF q.rate_count IS NOT NULL AND q.name = job.queue THEN  -- rates: the start counts
            DELETE FROM queue_starts
            WHERE queue = job.queue AND started_at <= job.started_at - q.rate_ms;
            INSERT INTO queue_starts (queue, started_at) VALUES (job.queue, job.started_at);
        END IF;
        RETURN NEXT job;
        RETURN;
    END LOOP;
END $$;

-- migrations/0017's plan, and a rated queue holding jobs back plans a wake-up for when its
-- oldest start in the window leaves it (due_ms is the earlier of the two).
CREATE OR REPLACE FUNCTION queuectl_idle_plan(p_queues text[]) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    RETURN jsonb_build_object(
        'due_ms', least(
            (SELECT min(run_at) - queuectl_now_ms() FROM jobs
             WHERE state IN ('pending', 'failed') AND blocked_by = 0
               AND (coalesce(cardinality(p_queues), 0) = 0 OR queue = ANY(p_queues))
               AND queue NOT IN (SELECT name FROM queues_blocked)
               AND (mutex IS NULL OR mutex NOT IN (SELECT mutex FROM mutexes_held))),
            (SELECT min((SELECT min(s.started_at) FROM queue_starts AS s
                         WHERE s.queue = q.name
                           AND s.started_at > queuectl_now_ms() - q.rate_ms)
                        + q.rate_ms) - queuectl_now_ms()
             FROM queues AS q
             WHERE q.rate_count IS NOT NULL
               AND (coalesce(cardinality(p_queues), 0) = 0 OR q.name = ANY(p_queues))
               AND EXISTS (SELECT 1 FROM jobs
                           WHERE queue = q.name AND state IN ('pending', 'failed')
                             AND blocked_by = 0))),
        'held', false,
        'tick_ms', (SELECT min(next_run_at) - queuectl_now_ms() FROM cron_schedules
                    WHERE NOT paused));
END $$;
