-- `queue window Q WINDOW --tz ZONE`: jobs of Q start only inside the window. The window is
-- kept as given, and as the stretch of time (ms) it is open now or opens next, which the
-- claim reads (queues_blocked): a claim of Q takes a job only while window_opens <= now <
-- window_closes. Once window_closes has passed, a worker's housekeeping works out the next
-- stretch (the idle plan's tick counts it), and until then the queue is closed, as it
-- should be.
ALTER TABLE queues ADD COLUMN window_spec text;      -- as given; NULL: no window
ALTER TABLE queues ADD COLUMN window_tz text;        -- IANA name
ALTER TABLE queues ADD COLUMN window_opens bigint;
ALTER TABLE queues ADD COLUMN window_closes bigint;

-- The queues no claim may take from right now, as a first look without locks: paused,
-- running as many jobs as their limit, started as many as their rate allows, or outside
-- their window (which needs no lock: no claim moves it).
CREATE OR REPLACE VIEW queues_blocked AS
SELECT name FROM queues
WHERE paused
   OR (concurrency_limit IS NOT NULL AND concurrency_limit <= queuectl_queue_running(name))
   OR rate_count <= queuectl_queue_starts(name, rate_ms)
   OR (window_spec IS NOT NULL
       AND NOT (window_opens <= queuectl_now_ms() AND queuectl_now_ms() < window_closes));

-- migrations/0018's plan, and a windowed queue holding jobs back plans a wake-up for when
-- its window opens; the end of a window's stretch is a tick (housekeeping works out the
-- next).
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
            (SELECT min(coalesce(
                        (SELECT min(s.started_at) FROM queue_starts AS s
                         WHERE s.queue = q.name
                           AND s.started_at > queuectl_now_ms() - q.rate_ms) + q.rate_ms,
                        CASE WHEN q.window_opens > queuectl_now_ms() THEN q.window_opens END))
                    - queuectl_now_ms()
             FROM queues AS q
             WHERE (q.rate_count IS NOT NULL OR q.window_spec IS NOT NULL)
               AND (coalesce(cardinality(p_queues), 0) = 0 OR q.name = ANY(p_queues))
               AND EXISTS (SELECT 1 FROM jobs
                           WHERE queue = q.name AND state IN ('pending', 'failed')
                             AND blocked_by = 0))),
        'held', false,
        'tick_ms', least(
            (SELECT min(next_run_at) - queuectl_now_ms() FROM cron_schedules WHERE NOT paused),
            (SELECT min(window_closes) - queuectl_now_ms() FROM queues
             WHERE window_spec IS NOT NULL)));
END $$;
