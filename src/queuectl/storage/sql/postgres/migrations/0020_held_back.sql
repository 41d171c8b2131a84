-- Jobs held back by flow control cost the rest of the work nothing: migrations/0019's steered
-- claim and plan walked the ready jobs in claim (or due) order and passed over those of
-- paused, full, rated or closed queues one by one, so 100,000 held-back due jobs cost every
-- claim of other work 100,000 rows. Both now find the ready queues by a loose index scan
-- (one step of jobs_ready_queue each) and read only the queues that may start jobs
-- (bench/heldback.py). Without queue settings the plan is as before.

-- How many jobs of queue p_queue run now (migrations/0008), read from the running jobs
-- alone: planned generically (with p_queue unknown) the count walked the jobs_queue index
-- over every job of the queue, 100,000 held-back ones included.
CREATE OR REPLACE FUNCTION queuectl_queue_running(p_queue text) RETURNS bigint
    LANGUAGE sql STABLE
    AS $$ SELECT (SELECT count(*) FROM (SELECT queue FROM jobs WHERE state = 'processing'
                                        OFFSET 0) AS running
                  WHERE running.queue = p_queue)
               + (SELECT count(*) FROM attempts a JOIN jobs j ON j.id = a.job_id
                  WHERE a.finished_at IS NULL AND j.state = 'cancelled' AND j.queue = p_queue) $$;

CREATE OR REPLACE FUNCTION queuectl_claim_steered(p_worker text, p_queues text[])
    RETURNS SETOF jobs
    LANGUAGE plpgsql AS $$
DECLARE
    job jobs;
    skip text[];
    busy text[];
    taken bigint[] := '{}';
    best bigint;
    pick record;
    q queues;
    locked boolean := false;
BEGIN
    SELECT coalesce(array_agg(name), '{}') INTO skip FROM queues_blocked;
    SELECT coalesce(array_agg(mutex), '{}') INTO busy FROM mutexes_held;
    LOOP
        -- held back: the best ready job of each queue that may start one, by a loose scan
        -- (the ready queues, one index step each, then each one's best job), so the due
        -- jobs of a skipped queue are never walked over however many; then that job is
        -- locked, and one another claimer holds (or took meanwhile) is passed over.
        WITH RECURSIVE seen(queue) AS (
            SELECT (SELECT queue FROM jobs WHERE state IN ('pending', 'failed') AND blocked_by = 0
                    ORDER BY queue LIMIT 1)  -- (min() would be planned as a walk of jobs_due)
            UNION ALL
            SELECT (SELECT queue FROM jobs
                    WHERE state IN ('pending', 'failed') AND blocked_by = 0
                      AND queue > seen.queue
                    ORDER BY queue LIMIT 1)
            FROM seen WHERE seen.queue IS NOT NULL)
        SELECT head.seq INTO best FROM seen
        CROSS JOIN LATERAL (
            SELECT seq, priority, run_at FROM jobs
            WHERE queue >= seen.queue AND queue <= seen.queue
              AND state IN ('pending', 'failed') AND blocked_by = 0
              AND run_at <= queuectl_now_ms()
              AND (mutex IS NULL OR mutex <> ALL(busy)) AND seq <> ALL(taken)
            -- the queue as a range, and first in the order: only jobs_ready_queue gives
            -- this order (with "queue =" the planner drops the queue from the order, and
            -- jobs_ready, walked with a filter on the queue, would pass every held job)
            ORDER BY queue, priority DESC, run_at, seq LIMIT 1) AS head
        WHERE seen.queue IS NOT NULL AND seen.queue <> ALL(skip)
          AND (cardinality(p_queues) = 0 OR seen.queue = ANY(p_queues))
        ORDER BY head.priority DESC, head.run_at, head.seq LIMIT 1;
        IF best IS NULL THEN
            RETURN;
        END IF;
        SELECT seq, queue, mutex INTO pick FROM jobs
        WHERE seq = best AND state IN ('pending', 'failed') AND blocked_by = 0
          AND run_at <= queuectl_now_ms()
        FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            taken := taken || best;
            CONTINUE;
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

CREATE OR REPLACE FUNCTION queuectl_idle_plan(p_queues text[]) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    RETURN jsonb_build_object(
        'due_ms', least(
            CASE WHEN EXISTS (SELECT 1 FROM queues) THEN
            -- held back: the earliest due time of each queue that may start jobs, by a
            -- loose scan (its ready queues, then each one's priorities, one index step
            -- each, then the first due time of each), so held-back jobs are never walked
            (WITH RECURSIVE seen(queue) AS (
                 SELECT (SELECT queue FROM jobs
                         WHERE state IN ('pending', 'failed') AND blocked_by = 0
                         ORDER BY queue LIMIT 1)
                 UNION ALL
                 SELECT (SELECT queue FROM jobs
                         WHERE state IN ('pending', 'failed') AND blocked_by = 0
                           AND queue > seen.queue
                         ORDER BY queue LIMIT 1)
                 FROM seen WHERE seen.queue IS NOT NULL),
             prio(queue, priority) AS (
                 SELECT seen.queue,
                        (SELECT priority FROM jobs
                         WHERE queue >= seen.queue AND queue <= seen.queue
                           AND state IN ('pending', 'failed') AND blocked_by = 0
                         ORDER BY queue, priority DESC LIMIT 1)
                 FROM seen
                 WHERE seen.queue IS NOT NULL
                   AND (coalesce(cardinality(p_queues), 0) = 0 OR seen.queue = ANY(p_queues))
                   AND seen.queue NOT IN (SELECT name FROM queues_blocked)
                 UNION ALL
                 SELECT prio.queue,
                        (SELECT priority FROM jobs
                         WHERE queue >= prio.queue AND queue <= prio.queue
                           AND state IN ('pending', 'failed') AND blocked_by = 0
                           AND priority < prio.priority
                         ORDER BY queue, priority DESC LIMIT 1)
                 FROM prio WHERE prio.priority IS NOT NULL)
             SELECT min((SELECT run_at FROM jobs
                         -- ranges, not "=": see the claim's head above
                         WHERE queue >= prio.queue AND queue <= prio.queue
                           AND priority >= prio.priority AND priority <= prio.priority
                           AND state IN ('pending', 'failed') AND blocked_by = 0
                           AND (mutex IS NULL
                                OR mutex NOT IN (SELECT mutex FROM mutexes_held))
                         ORDER BY queue, priority DESC, run_at LIMIT 1))
                    - queuectl_now_ms()
             FROM prio WHERE prio.priority IS NOT NULL)
            ELSE
            (SELECT min(run_at) - queuectl_now_ms() FROM jobs
             WHERE state IN ('pending', 'failed') AND blocked_by = 0
               AND (coalesce(cardinality(p_queues), 0) = 0 OR queue = ANY(p_queues))
               AND (mutex IS NULL OR mutex NOT IN (SELECT mutex FROM mutexes_held)))
            END,
            (SELECT min(coalesce(
                        (SELECT min(s.started_at) FROM queue_starts AS s
                         WHERE s.queue = q.name
                           AND s.started_at > queuectl_now_ms() - q.rate_ms) + q.rate_ms,
                        CASE WHEN q.window_opens > queuectl_now_ms() THEN q.window_opens END))
                    - queuectl_now_ms()
             FROM queues AS q
             WHERE (q.rate_count IS NOT NULL OR q.window_spec IS NOT NULL)
               AND (coalesce(cardinality(p_queues), 0) = 0 OR q.name = ANY(p_queues))
               -- (a scalar subquery, not EXISTS, which is planned as a join over every job)
               AND (SELECT 1 FROM jobs
                    WHERE queue = q.name AND state IN ('pending', 'failed') AND blocked_by = 0
                    LIMIT 1) IS NOT NULL)),
        'held', false,
        'tick_ms', least(
            (SELECT min(next_run_at) - queuectl_now_ms() FROM cron_schedules WHERE NOT paused),
            (SELECT min(window_closes) - queuectl_now_ms() FROM queues
             WHERE window_spec IS NOT NULL)));
END $$;
