-- Named queries for the SQLite store. Parameters are :named; times are epoch ms, and
-- :now is the store's clock, passed by the caller (storage/sqlite.py).

-- name: insert_job
-- The rows come as one JSON array of [id, command, max_retries, priority, timeout, queue,
-- cwd, env, run_at] arrays: one bound parameter for a whole batch is ~0.2 s faster per
-- 100,000 jobs (a bulk file) than executemany binding every row. json_each yields the
-- array in order, so seq follows the batch's order.
INSERT INTO jobs (id, command, state, max_retries, priority, timeout, queue, cwd, env,
                  run_at, created_at, updated_at)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), 'pending',
       json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'),
       json_extract(value, '$[5]'), json_extract(value, '$[6]'), json_extract(value, '$[7]'),
       json_extract(value, '$[8]'), :now, :now
FROM json_each(:rows)

-- name: get_job
SELECT * FROM jobs WHERE id = :id

-- name: list_jobs
SELECT * FROM jobs
WHERE (:state IS NULL OR state = :state)
  AND (:queue IS NULL OR queue = :queue)
  AND (:id_contains IS NULL OR instr(id, :id_contains) > 0)
  AND (:cron IS NULL OR cron = :cron)
  -- `--search` (:search is a LIKE pattern, %TEXT% with % _ \ escaped): a substring of the
  -- id or the command in any case. SQLite's LIKE folds case as its lower() does (ASCII),
  -- without making a lowered copy of every command: 3.5 times faster over a million jobs.
  AND (:search IS NULL OR id LIKE :search ESCAPE '\' OR command LIKE :search ESCAPE '\')
  -- `--tag` (a JSON array of distinct tags): the job holds every one
  AND (:tags IS NULL OR jobs.tags IS NOT NULL  -- (most jobs have none: no JSON read)
                       AND (SELECT count(*) FROM json_each(jobs.tags) AS t
                            WHERE t.value IN (SELECT value FROM json_each(:tags)))
                           = json_array_length(:tags))
ORDER BY seq DESC
LIMIT coalesce(:limit, -1) OFFSET :offset  -- NULL: every job

-- name: list_jobs_window
-- list_jobs with a search or tags, looking only at the newest :window jobs of the store (by
-- seq, from the primary key's end at once), among which the other filters choose: a
-- search that matches nothing reads at most that many rows, never the whole table (see
-- documents.SEARCH_WINDOW), and one that matches many stops at the limit as before.
SELECT * FROM jobs
WHERE (:state IS NULL OR state = :state)
  AND (:queue IS NULL OR queue = :queue)
  AND (:id_contains IS NULL OR instr(id, :id_contains) > 0)
  AND (:cron IS NULL OR cron = :cron)
  AND seq > (SELECT coalesce(max(seq), 0) FROM jobs) - :window
  AND (:search IS NULL OR id LIKE :search ESCAPE '\' OR command LIKE :search ESCAPE '\')
  AND (:tags IS NULL OR jobs.tags IS NOT NULL  -- (most jobs have none: no JSON read)
                       AND (SELECT count(*) FROM json_each(jobs.tags) AS t
                            WHERE t.value IN (SELECT value FROM json_each(:tags)))
                           = json_array_length(:tags))
ORDER BY seq DESC
LIMIT coalesce(:limit, -1) OFFSET :offset

-- name: beyond_window
-- Whether jobs older than the newest :window match the filters a windowed search
-- narrows with (the indexes on state, queue and cron lead with them, then seq).
SELECT EXISTS (
    SELECT 1 FROM jobs
    WHERE (:state IS NULL OR state = :state)
      AND (:queue IS NULL OR queue = :queue)
      AND (:cron IS NULL OR cron = :cron)
      AND seq <= (SELECT coalesce(max(seq), 0) FROM jobs) - :window)

-- name: attempts
-- A running attempt has no row until it ends (or saves output): the job row describes it.
SELECT job_id, number, worker, started_at, finished_at, exit_code, outcome, error
FROM attempts WHERE job_id = :id
UNION ALL
SELECT id, runs, worker, started_at, NULL, NULL, NULL, NULL FROM jobs
WHERE id = :id AND state = 'processing'
  AND NOT EXISTS (SELECT 1 FROM attempts
                  WHERE job_id = jobs.id AND number = jobs.runs)
ORDER BY 2

-- name: count_states
SELECT state, count(*) FROM jobs GROUP BY state

-- name: count_scheduled
-- A job waiting on dependencies counts as blocked (count_blocked), not as scheduled.
SELECT (SELECT count(*) FROM jobs WHERE state = 'pending' AND blocked_by = 0 AND run_at > :now)
     -- a GPU job counts its GPU in blocked_by (migrations/0023)
     + (SELECT count(*) FROM jobs INDEXED BY jobs_gpu_ready
        WHERE gpus IS NOT NULL AND state IN ('pending', 'failed') AND blocked_by = 1
          AND state = 'pending' AND run_at > :now)

-- name: count_blocked
-- Waiting on dependencies; a held job counts as held (count_held), whatever it waits for.
-- A GPU job counts its GPU in blocked_by too (migrations/0023): blocked beyond that one.
SELECT count(*) FROM jobs WHERE state = 'pending' AND blocked_by > 0 AND held = 0
  AND blocked_by > (gpus IS NOT NULL)

-- name: count_held
SELECT count(*) FROM jobs WHERE held <> 0 AND state IN ('pending', 'failed')

-- name: claim_any
-- Only a registered worker claims: one taken for lost (its row removed) registers again
-- first. The EXISTS is evaluated once per statement, through the workers' primary key.
-- Queues: no job of a paused queue, of a queue running its limit, of one whose rate allows
-- no start now or whose window is closed, is taken; queues_blocked (migrations/0005) and
-- the rates and windows are read once per statement, inside the write lock, and only when
-- the queues table has a row: with none nothing is blocked, and the NOT IN's list would
-- cost a temporary table per claim (~27,000 instructions of a worker's ~720,000 per job).
UPDATE jobs
SET state = 'processing', worker = :worker, runs = runs + 1, started_at = :now,
    finished_at = NULL, exit_code = NULL, updated_at = :now
-- Held back: while some queue has settings, the claim takes the best ready job of each
-- queue that may start one (a loose scan: the ready queues found one index step each, then
-- each one's best job), so due jobs that a paused, full, rated or closed queue holds back are
-- never walked over, however many (bench/heldback.py).
WHERE seq = CASE WHEN EXISTS (SELECT 1 FROM queues) THEN
           (WITH RECURSIVE seen(queue) AS (
                 SELECT (SELECT queue FROM jobs INDEXED BY jobs_ready_queue
                         WHERE state IN ('pending', 'failed') AND blocked_by = 0
                         ORDER BY queue LIMIT 1)
                 UNION ALL
                 SELECT (SELECT queue FROM jobs INDEXED BY jobs_ready_queue
                         WHERE state IN ('pending', 'failed') AND blocked_by = 0
                           AND queue > seen.queue
                         ORDER BY queue LIMIT 1)
                 FROM seen WHERE seen.queue IS NOT NULL)
             SELECT head.seq FROM seen
             JOIN jobs AS head ON head.seq = (
                 SELECT seq FROM jobs INDEXED BY jobs_ready_queue
                 WHERE queue = seen.queue AND state IN ('pending', 'failed')
                   AND blocked_by = 0 AND run_at <= :now
                   AND (mutex IS NULL OR mutex NOT IN (SELECT mutex FROM mutexes_held))
                 ORDER BY priority DESC, run_at, seq LIMIT 1)
             WHERE seen.queue NOT IN (SELECT name FROM queues_blocked)
               AND seen.queue NOT IN (SELECT name FROM queues AS q
                     WHERE q.rate_count <= (SELECT count(*) FROM queue_starts AS s
                                            WHERE s.queue = q.name
                                              AND s.started_at > :now - q.rate_ms)
                        OR (q.window_spec IS NOT NULL
                            AND NOT (q.window_opens <= :now AND :now < q.window_closes)))
             ORDER BY head.priority DESC, head.run_at, head.seq LIMIT 1)
           ELSE
            (SELECT seq FROM jobs INDEXED BY jobs_ready  -- walk the ready index in claim
                                                           -- order; unforced, the planner
                                                           -- sorts every pending row
             WHERE state IN ('pending', 'failed') AND blocked_by = 0 AND run_at <= :now
               -- (no queue has settings) mutexes: none that a running job holds
               -- (mutexes_held: read once per statement, and only once a candidate holds one)
               AND (mutex IS NULL OR mutex NOT IN (SELECT mutex FROM mutexes_held))
             ORDER BY priority DESC, run_at, seq LIMIT 1) END
  AND EXISTS (SELECT 1 FROM workers WHERE id = :worker)
RETURNING id, command, state, attempts, max_retries, priority, timeout, queue, run_at,
          created_at, updated_at, started_at, finished_at, exit_code, last_error, worker,
          cwd, env, runs, cron, unique_key, rerun_of, held, tags, success_exit,
          no_retry_exit, deadline, expires_at, deadline_at, hook, snapshot  -- rows.CLAIMED_COLUMNS,
          -- read by position

-- name: claim_queues
UPDATE jobs
SET state = 'processing', worker = :worker, runs = runs + 1, started_at = :now,
    finished_at = NULL, exit_code = NULL, updated_at = :now
-- Held back: as claim_any, over the queues given.
WHERE seq = CASE WHEN EXISTS (SELECT 1 FROM queues) THEN
           (WITH seen(queue) AS (SELECT value FROM json_each(:queues))
             SELECT head.seq FROM seen
             JOIN jobs AS head ON head.seq = (
                 SELECT seq FROM jobs INDEXED BY jobs_ready_queue
                 WHERE queue = seen.queue AND state IN ('pending', 'failed')
                   AND blocked_by = 0 AND run_at <= :now
                   AND (mutex IS NULL OR mutex NOT IN (SELECT mutex FROM mutexes_held))
                 ORDER BY priority DESC, run_at, seq LIMIT 1)
             WHERE seen.queue NOT IN (SELECT name FROM queues_blocked)
               AND seen.queue NOT IN (SELECT name FROM queues AS q
                     WHERE q.rate_count <= (SELECT count(*) FROM queue_starts AS s
                                            WHERE s.queue = q.name
                                              AND s.started_at > :now - q.rate_ms)
                        OR (q.window_spec IS NOT NULL
                            AND NOT (q.window_opens <= :now AND :now < q.window_closes)))
             ORDER BY head.priority DESC, head.run_at, head.seq LIMIT 1)
           ELSE
            (SELECT seq FROM jobs INDEXED BY jobs_ready_queue
             WHERE state IN ('pending', 'failed') AND blocked_by = 0 AND run_at <= :now
               AND queue IN (SELECT value FROM json_each(:queues))
               -- (no queue has settings) mutexes: none that a running job holds
               -- (mutexes_held: read once per statement, and only once a candidate holds one)
               AND (mutex IS NULL OR mutex NOT IN (SELECT mutex FROM mutexes_held))
             ORDER BY priority DESC, run_at, seq LIMIT 1) END
  AND EXISTS (SELECT 1 FROM workers WHERE id = :worker)
RETURNING id, command, state, attempts, max_retries, priority, timeout, queue, run_at,
          created_at, updated_at, started_at, finished_at, exit_code, last_error, worker,
          cwd, env, runs, cron, unique_key, rerun_of, held, tags, success_exit,
          no_retry_exit, deadline, expires_at, deadline_at, hook, snapshot  -- as claim_any

-- name: next_due
-- Milliseconds until the first due time, found in index order (one step when every queue
-- is served); min() with this WHERE would read every pending row. Jobs of blocked queues
-- (paused, or running their limit) are not waited for: a freed place or a resume wakes a
-- worker. Second: cron_next's answer, so that an idle worker plans its sleep in one read.
SELECT CASE WHEN EXISTS (SELECT 1 FROM queues) THEN
       -- Held back: while some queue has settings, the earliest due time of each queue that
       -- may start jobs, found by a loose scan (its ready queues, then each one's
       -- priorities, one index step each, then the first due time of each priority), so
       -- the jobs held back are never walked over (bench/heldback.py).
       (WITH RECURSIVE seen(queue) AS (
                 SELECT (SELECT queue FROM jobs INDEXED BY jobs_ready_queue
                         WHERE state IN ('pending', 'failed') AND blocked_by = 0
                         ORDER BY queue LIMIT 1)
                 UNION ALL
                 SELECT (SELECT queue FROM jobs INDEXED BY jobs_ready_queue
                         WHERE state IN ('pending', 'failed') AND blocked_by = 0
                           AND queue > seen.queue
                         ORDER BY queue LIMIT 1)
                 FROM seen WHERE seen.queue IS NOT NULL),
             open(queue) AS (
                 SELECT queue FROM seen
                 WHERE queue IS NOT NULL
                   AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
                   AND queue NOT IN (SELECT name FROM queues_blocked)
                   AND queue NOT IN (SELECT name FROM queues AS q
                     WHERE q.rate_count <= (SELECT count(*) FROM queue_starts AS s
                                            WHERE s.queue = q.name
                                              AND s.started_at > :now - q.rate_ms)
                        OR (q.window_spec IS NOT NULL
                            AND NOT (q.window_opens <= :now AND :now < q.window_closes)))),
             prio(queue, priority) AS (
                 SELECT queue, (SELECT priority FROM jobs INDEXED BY jobs_ready_queue
                                WHERE queue = open.queue AND state IN ('pending', 'failed')
                                  AND blocked_by = 0
                                ORDER BY priority DESC LIMIT 1)
                 FROM open
                 UNION ALL
                 SELECT queue, (SELECT priority FROM jobs INDEXED BY jobs_ready_queue
                                WHERE queue = prio.queue AND state IN ('pending', 'failed')
                                  AND blocked_by = 0 AND priority < prio.priority
                                ORDER BY priority DESC LIMIT 1)
                 FROM prio WHERE prio.priority IS NOT NULL)
        SELECT min((SELECT run_at FROM jobs INDEXED BY jobs_ready_queue
                    WHERE queue = prio.queue AND priority = prio.priority
                      AND state IN ('pending', 'failed') AND blocked_by = 0
                      AND (mutex IS NULL OR mutex NOT IN (SELECT mutex FROM mutexes_held))
                    ORDER BY run_at LIMIT 1)) - :now
        FROM prio WHERE prio.priority IS NOT NULL)
       ELSE (SELECT min(run_at) - :now FROM (
            SELECT run_at FROM jobs INDEXED BY jobs_due
            WHERE state IN ('pending', 'failed') AND blocked_by = 0
              AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
              AND (mutex IS NULL OR mutex NOT IN (SELECT mutex FROM mutexes_held))
            ORDER BY run_at LIMIT 1)) END,
       (SELECT min(next_run_at) - :now FROM cron_schedules WHERE paused = 0),
       -- Third: ms until a queue with waiting jobs that its rate or its window holds back
       -- may start one again (its oldest start in the window leaves it; its window opens);
       -- NULL: none.
       (SELECT min(coalesce(
                   (SELECT min(s.started_at) FROM queue_starts AS s
                    WHERE s.queue = q.name AND s.started_at > :now - q.rate_ms) + q.rate_ms,
                   CASE WHEN q.window_opens > :now THEN q.window_opens END)) - :now
        FROM queues AS q
        WHERE (q.rate_count IS NOT NULL OR q.window_spec IS NOT NULL)
          AND (:queues IS NULL OR q.name IN (SELECT value FROM json_each(:queues)))
          AND EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_ready_queue
                      WHERE queue = q.name AND state IN ('pending', 'failed')
                        AND blocked_by = 0)),
       -- Fourth: ms until a window's stretch ends, when housekeeping works out its next
       -- (a tick, as a schedule's).
       (SELECT min(window_closes) - :now FROM queues WHERE window_spec IS NOT NULL)

-- name: finish_job
-- Guarded: the job must still be this worker's attempt :number (not cancelled or recovered
-- meanwhile). :delay_ms NULL keeps run_at.
UPDATE jobs
SET state = :state, attempts = :attempts, run_at = coalesce(:now + :delay_ms, run_at),
    finished_at = :now, exit_code = :exit_code, last_error = :error, updated_at = :now
WHERE id = :id AND state = 'processing' AND worker = :worker AND runs = :number
-- Whether the guard matched (the store knows the rest), whether completing the job may
-- have released waiting ones (migrations/0004), and whether its queue has a limit (its end
-- frees a place that a held job may be waiting for).
RETURNING has_dependents,
          (SELECT concurrency_limit IS NOT NULL FROM queues WHERE name = jobs.queue) AS limited,
          mutex IS NOT NULL AS exclusive  -- its end frees a mutex: a waiting job may take it

-- name: record_attempt
-- An attempt's row is written when it ends: one insert per job, where a row opened at the
-- claim would cost an update too (measurable in a worker's CPU per job). A row
-- saved while it ran (its output, for `logs --follow`) is completed instead; one already
-- closed (by a recovery that took the job for lost) is left as it is.
INSERT INTO attempts (job_id, number, worker, run_at, started_at, finished_at, exit_code,
                      outcome, error, output, output_dropped)
VALUES (:id, :number, :worker, :run_at, coalesce(:started_at, :now), :now, :exit_code,
        :outcome, :attempt_error, :output, coalesce(:dropped, 0))
ON CONFLICT (job_id, number) DO UPDATE
SET finished_at = excluded.finished_at, exit_code = excluded.exit_code,
    outcome = excluded.outcome, error = excluded.error,
    output = coalesce(excluded.output, output),
    output_dropped = coalesce(:dropped, output_dropped)
WHERE finished_at IS NULL

-- name: save_output
-- The running attempt's output so far: its row is made from the job row the first time.
INSERT INTO attempts (job_id, number, worker, run_at, started_at, output, output_dropped)
SELECT id, runs, worker, run_at, started_at, :output, :dropped FROM jobs
WHERE id = :id AND runs = :number AND state = 'processing'
ON CONFLICT (job_id, number) DO UPDATE
SET output = excluded.output, output_dropped = excluded.output_dropped
WHERE finished_at IS NULL

-- name: read_output
-- The latest attempt, or the one asked for; a running one may have no row yet (see
-- attempts): then it has printed nothing that was saved.
SELECT number, output, output_dropped, finished FROM (
    SELECT number, output, output_dropped, finished_at IS NOT NULL AS finished
    FROM attempts WHERE job_id = :id
    UNION ALL
    SELECT runs, NULL, 0, 0 FROM jobs
    WHERE id = :id AND state = 'processing'
      AND NOT EXISTS (SELECT 1 FROM attempts
                  WHERE job_id = jobs.id AND number = jobs.runs))
WHERE :number IS NULL OR number = :number
ORDER BY number DESC LIMIT 1

-- name: insert_worker
-- workers.state and current_job are not read (see all_workers): they are written once
-- here, for workers of an earlier queuectl that still read them.
INSERT OR REPLACE INTO workers (id, host, pid, queues, state, current_job, started_at,
                                heartbeat_at, stop_requested, pid_scope, gpus)
VALUES (:id, :host, :pid, :queues, 'idle', NULL, :now, :now, 0, :pid_scope, :gpus)

-- name: delete_worker
DELETE FROM workers WHERE id = :id

-- name: heartbeat
-- Returns no row: check_in follows in the same transaction (what the worker is asked,
-- what it holds).
UPDATE workers SET heartbeat_at = :now
WHERE id = :worker

-- name: check_in
-- What is asked of a worker (stop: NULL when its row is gone, taken for lost), and whether
-- it still holds the job it runs: read from the job's row, which must name this worker and
-- this attempt. also_held: a job that names the worker besides that one, which it does not
-- know it holds (a claim whose answer never reached it). And the stored config, so that
-- a worker keeps its snapshot fresh without a read of its own.
SELECT (SELECT stop_requested FROM workers WHERE id = :worker),
       EXISTS (SELECT 1 FROM jobs WHERE id = :job AND state = 'processing'
                 AND worker = :worker AND runs = :runs),
       (SELECT id FROM jobs WHERE state = 'processing' AND worker = :worker
          AND id IS NOT :job ORDER BY started_at LIMIT 1),
       (SELECT json_group_object(key, value) FROM config)

-- name: all_workers
-- A worker's state and current job are read from the jobs it holds (the processing jobs
-- naming it, found through jobs_state: never more of them than workers), so they cannot
-- disagree with the jobs, and a job boundary writes no worker row (a write, and a page in
-- each commit, saved per job). The latest start wins should
-- a worker ever hold two jobs (it never runs more than one). now_ms rides along: the
-- store's clock, by which liveness is judged.
SELECT id, host, pid, CASE WHEN job IS NULL THEN 'idle' ELSE 'busy' END, job, started_at,
       heartbeat_at, queues, :now AS now_ms, pid_scope  -- (pid_scope last in both dialects)
FROM (SELECT workers.*, (SELECT id FROM jobs
                         WHERE state = 'processing' AND worker = workers.id
                         ORDER BY started_at DESC LIMIT 1) AS job
      FROM workers)
ORDER BY started_at, id

-- name: idle_workers
-- The workers a "work" wake-up may go to (one per set of queues served), and those queues.
SELECT id, queues FROM workers
WHERE stop_requested = 0
  AND NOT EXISTS (SELECT 1 FROM jobs WHERE state = 'processing' AND worker = workers.id)

-- name: vitals
-- The workers a recovery may find lost: those whose pids are this process's to judge (this
-- host, this boot, this PID namespace: a dead pid is judged there alone) and those whose
-- heartbeat is older than the cutoff. Every live worker's pool makes a recovery pass every few seconds:
-- reading the whole fleet each time would cost the square of its size.
-- Each with its last sign of life: its heartbeat, or its latest claim of a job it still
-- holds if that came later (a worker back from a silence may claim before it heartbeats:
-- it is alive); and the cutoff, now minus the lease (NULL: no silence is judged).
SELECT id, host, pid_scope, pid,
       max(heartbeat_at, coalesce((SELECT max(started_at) FROM jobs
                                   WHERE state = 'processing' AND worker = workers.id), 0)),
       :now - :lease_ms
FROM workers
WHERE (host = :host AND pid_scope = :pid_scope) OR heartbeat_at < :now - :lease_ms


-- name: held_jobs
-- The jobs to hand back: those of workers whose process is gone; those of silent workers
-- claimed before the cutoff; and those whose worker's row is gone (it was taken for lost as
-- it claimed) once their claim is older than the cutoff: until then the claim is the sign
-- of life, and the worker, told its row went, registers again. A NULL lease judges no
-- silence.
SELECT * FROM jobs
WHERE state = 'processing'
  AND (worker IS NULL
       OR worker IN (SELECT value FROM json_each(:dead))
       OR (started_at < :now - :lease_ms
           AND (worker IN (SELECT value FROM json_each(:silent))
                OR worker NOT IN (SELECT id FROM workers))))

-- name: close_orphan_attempts
-- Attempts of the lost workers left open (saved output, a cancel while running), except
-- that of a job still running under it (a claim newer than the cutoff).
UPDATE attempts SET finished_at = :now, outcome = 'worker_lost', error = 'worker lost'
WHERE finished_at IS NULL AND worker IN (SELECT value FROM json_each(:lost))
  AND NOT EXISTS (SELECT 1 FROM jobs WHERE id = attempts.job_id AND state = 'processing'
                    AND worker = attempts.worker AND runs = attempts.number)

-- name: delete_workers
DELETE FROM workers WHERE id IN (SELECT value FROM json_each(:lost))

-- name: keep_running_attempts
-- Before running jobs are cancelled: each one's attempt, which has no row until it ends, gets one
-- now (open), so it stays in the log even if its worker never reports back.
INSERT INTO attempts (job_id, number, worker, run_at, started_at)
SELECT id, runs, worker, run_at, started_at FROM jobs
WHERE id IN (SELECT value FROM json_each(:ids)) AND state = 'processing'
ON CONFLICT (job_id, number) DO NOTHING

-- name: cancel_jobs
-- Every listed job that is pending, failed or processing (the caller refuses the lot when
-- one is not, and rolls back). Found by id: `+state` keeps the planner off jobs_state,
-- which it chose (a store has no statistics) and which walked every pending job of the
-- store for each call (a bulk cancel of 100,000 jobs read them all per batch of 500).
UPDATE jobs SET state = 'cancelled', finished_at = :now, updated_at = :now, held = 0,
    last_error = CASE WHEN state = 'processing' THEN 'cancelled while running' ELSE last_error END,
    -- the running attempt counts, as when its worker records a cancel it met
    attempts = attempts + CASE WHEN state = 'processing' THEN 1 ELSE 0 END
WHERE id IN (SELECT value FROM json_each(:ids)) AND +state IN ('pending', 'failed', 'processing')
RETURNING *

-- name: retry_dead
-- A deadline counts again from the next attempt's start.
UPDATE jobs SET state = 'pending', attempts = 0, run_at = :now, updated_at = :now,
    deadline_at = NULL
WHERE id = :id AND state = 'dead'
RETURNING *

-- name: dead_ids
SELECT id FROM jobs WHERE state = 'dead' ORDER BY seq

-- name: request_stop
UPDATE workers SET stop_requested = 1 RETURNING id

-- name: config_items
SELECT key, value FROM config ORDER BY key

-- name: config_set
INSERT INTO config (key, value) VALUES (:key, :value)
ON CONFLICT (key) DO UPDATE SET value = excluded.value

-- name: finished_attempts
SELECT job_id, worker, outcome, started_at, finished_at, run_at
FROM attempts WHERE finished_at >= :since ORDER BY finished_at

-- name: dead_since
SELECT count(*) FROM jobs WHERE state = 'dead' AND finished_at >= :since

-- name: lock_dependencies
-- The jobs named in `after` of a batch being enqueued (its own jobs included, inserted
-- just before in the same transaction): marked as having dependents, so that completing
-- them releases the batch's jobs, and returned with their state (a missing one is unknown).
-- (The write lock is held: nothing completes between this and block_waiting.)
UPDATE jobs SET has_dependents = 1
WHERE id IN (SELECT value FROM json_each(:ids))
RETURNING id, state

-- name: insert_dependencies
-- The edges as one JSON array of [job id, dependency id, position], read in one pass.
-- (Three arrays joined on their keys were a nested scan: json_each has no index, so 40,000
-- edges cost 40,000 x 40,000 row visits per join, minutes under the write lock.)
INSERT INTO job_dependencies (job_id, depends_on, position, kind)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
       json_extract(value, '$[3]')
FROM json_each(:edges)

-- name: block_waiting
-- The new jobs wait for their dependencies that have not ended as their edge asks yet
-- (completed; any end; dead or cancelled), one that is gone was purged after it ended;
-- those with none left are ready at once.
UPDATE jobs SET blocked_by = (
    SELECT count(*) FROM job_dependencies d JOIN jobs dep ON dep.id = d.depends_on
    WHERE d.job_id = jobs.id
      AND CASE d.kind WHEN 'any' THEN dep.state NOT IN ('completed', 'dead', 'cancelled')
                      WHEN 'failure' THEN dep.state NOT IN ('dead', 'cancelled')
                      ELSE dep.state <> 'completed' END)
WHERE id IN (SELECT value FROM json_each(:ids))

-- name: dependencies_of
-- `after` of each listed job in the order given, with each dependency's state (NULL: purged,
-- after it completed) and whether the job still waits at all.
SELECT d.job_id, d.depends_on, dep.state, w.state = 'pending' AND w.blocked_by > 0, d.kind
FROM job_dependencies d
JOIN jobs w ON w.id = d.job_id
LEFT JOIN jobs dep ON dep.id = d.depends_on
WHERE d.job_id IN (SELECT value FROM json_each(:ids))
ORDER BY d.job_id, d.position

-- name: dependents_of
SELECT d.job_id FROM job_dependencies d JOIN jobs w ON w.id = d.job_id
WHERE d.depends_on = :id ORDER BY w.seq

-- name: cancel_dependents
-- Everything that waits, directly or through others, on the cancelled jobs can never run:
-- cancelled too, naming the dependency that was cancelled (for a job waiting on several,
-- the first in id order). UNION stops at edges already walked. Only `--after` edges: a job
-- waiting by outcome is released instead (jobs_release_dependents, which this statement's
-- attempts = attempts fires for each job it cancels).
WITH RECURSIVE doomed (id, cause) AS (
    SELECT d.job_id, d.depends_on FROM job_dependencies d
    WHERE d.depends_on IN (SELECT value FROM json_each(:ids)) AND d.kind = 'completed'
    UNION
    SELECT d.job_id, d.depends_on FROM job_dependencies d JOIN doomed ON d.depends_on = doomed.id
    WHERE d.kind = 'completed'
)
UPDATE jobs SET state = 'cancelled', finished_at = :now, updated_at = :now, held = 0,
    attempts = attempts,
    last_error = 'dependency ''' || (SELECT min(cause) FROM doomed WHERE doomed.id = jobs.id)
                 || ''' cancelled'
-- (by id: `+state` keeps the planner off jobs_state, every pending job of the store)
WHERE id IN (SELECT id FROM doomed) AND +state = 'pending' AND blocked_by > 0
RETURNING *

-- --- recurring jobs (cron) -------------------------------------------------------------------
-- Parameters as the PostgreSQL twins take them; "now" is :now here, the database's clock
-- there.

-- name: cron_now
SELECT :now

-- name: cron_upsert
-- A new schedule; with :replace an existing one of that name takes the new definition (its
-- skipped count and creation time stay). No row back: the name is taken and not replaced.
INSERT INTO cron_schedules (name, schedule, tz, command, max_retries, priority, timeout,
                            queue, cwd, env, overlap, catch_up, paused, next_run_at,
                            skipped, created_at, updated_at, jitter_ms, alert_after_ms,
                            policies)
VALUES (:name, :schedule, :tz, :command, :max_retries, :priority, :timeout, :queue, :cwd,
        :env, :overlap, :catch_up, 0, :next_run_at, 0, :now, :now, :jitter_ms,
        :alert_after_ms, :policies)
ON CONFLICT (name) DO UPDATE
SET schedule = excluded.schedule, tz = excluded.tz, command = excluded.command,
    max_retries = excluded.max_retries, priority = excluded.priority,
    timeout = excluded.timeout, queue = excluded.queue, cwd = excluded.cwd, env = excluded.env,
    overlap = excluded.overlap, catch_up = excluded.catch_up, jitter_ms = excluded.jitter_ms,
    alert_after_ms = excluded.alert_after_ms, paused = 0,
    next_run_at = excluded.next_run_at, updated_at = excluded.updated_at,
    policies = excluded.policies
WHERE :replace
RETURNING name

-- name: cron_list
-- Every schedule (or the one named), with its latest job through jobs_cron, and its latest
-- success among its last 200 jobs (a bound: a read never walks a schedule's whole history;
-- one that has not succeeded in 200 runs has no last success to show): the completed tick
-- job of the latest tick (ids NAME@<tick> sort by tick) and when it finished, and the
-- latest completed `cron run` job (NAME@run-...). The store's now is read with it (overdue
-- is judged on read), and the reason its latest completed job is suspect, if it is.
SELECT x.*, (SELECT finished_at FROM jobs WHERE id = x.ok_tick_job) AS ok_tick_finished
FROM (
    SELECT s.*, :now AS now_ms,
           (SELECT id FROM jobs WHERE cron = s.name ORDER BY seq DESC LIMIT 1) AS last_job,
           (SELECT state FROM jobs WHERE cron = s.name ORDER BY seq DESC LIMIT 1) AS last_state,
           (SELECT max(t.id) FROM (
               SELECT id, state FROM jobs WHERE cron = s.name ORDER BY seq DESC LIMIT 200) t
            WHERE t.state = 'completed'
              AND substr(t.id, length(s.name) + 2, 1) BETWEEN '0' AND '9') AS ok_tick_job,
           (SELECT max(t.created_at) FROM (
               SELECT id, state, created_at FROM jobs WHERE cron = s.name
               ORDER BY seq DESC LIMIT 200) t
            WHERE t.state = 'completed'
              AND substr(t.id, length(s.name) + 2, 4) = 'run-') AS ok_run_created,
           (SELECT max(t.finished_at) FROM (
               SELECT id, state, finished_at FROM jobs WHERE cron = s.name
               ORDER BY seq DESC LIMIT 200) t
            WHERE t.state = 'completed'
              AND substr(t.id, length(s.name) + 2, 4) = 'run-') AS ok_run_finished,
           (SELECT c.reason FROM cron_suspects c WHERE c.job_id = (
               SELECT t.id FROM (
                   SELECT id, state, seq FROM jobs WHERE cron = s.name
                   ORDER BY seq DESC LIMIT 200) t
               WHERE t.state = 'completed' ORDER BY t.seq DESC LIMIT 1)) AS last_suspect
    FROM cron_schedules s
    WHERE :name IS NULL OR s.name = :name
) x
ORDER BY x.name

-- name: cron_delete
DELETE FROM cron_schedules WHERE name = :name RETURNING name

-- name: cron_delete_skipped
DELETE FROM cron_skipped WHERE name = :name

-- name: cron_set_paused
UPDATE cron_schedules SET paused = :paused, next_run_at = :next_run_at, updated_at = :now
WHERE name = :name
RETURNING name

-- name: cron_next
-- Milliseconds until the earliest tick of a running schedule (<= 0: one is due); NULL when
-- none is planned. One step down cron_due.
SELECT min(next_run_at) - :now FROM cron_schedules WHERE paused = 0

-- name: cron_due
SELECT *, :now AS now_ms FROM cron_schedules
WHERE paused = 0 AND next_run_at <= :now
ORDER BY next_run_at

-- name: cron_advance
-- The guard that makes a tick fire once: only the caller that finds the tick it planned
-- from still stored moves it on, and it enqueues in the same transaction.
UPDATE cron_schedules SET next_run_at = :next_run_at, updated_at = :now
WHERE name = :name AND next_run_at = :due AND paused = 0
RETURNING name

-- name: cron_watched
-- A worker that saw :tick come (epoch ms): alive now (a heartbeat within :lease_ms), started
-- by the tick, and heartbeated since (so alive at it) or the one firing (:worker). A row
-- whose last heartbeat came before the tick may be a worker that died before it. No row: no
-- pool ran when the tick came. Read only in a firing transaction.
SELECT 1 FROM workers
WHERE heartbeat_at >= :now - :lease_ms AND started_at <= :tick
  AND (heartbeat_at >= :tick OR id = :worker)
LIMIT 1

-- name: cron_alerting
-- The schedules with --alert-after (a pool judges their episodes).
SELECT name FROM cron_schedules WHERE alert_after_ms IS NOT NULL ORDER BY name

-- name: cron_overdue_begin
-- The overdue episode starts: only the first pool to find it overdue sets it (a row back),
-- so its `overdue` event is one, whatever the number of pools.
UPDATE cron_schedules SET overdue_since = :now
WHERE name = :name AND overdue_since IS NULL
RETURNING name

-- name: cron_overdue_end
-- A success that finished after the episode began ends it: the next one can start.
UPDATE cron_schedules SET overdue_since = NULL
WHERE name = :name AND overdue_since IS NOT NULL AND overdue_since <= :ok_finished
RETURNING name

-- name: cron_unjudged
-- Each schedule's judged watermark and latest completed job (seq) among its last 200 (a
-- bound: read by every pool every few seconds): those with news to judge.
SELECT s.name, s.judged_seq,
       (SELECT max(t.seq) FROM (
           SELECT seq, state FROM jobs WHERE cron = s.name ORDER BY seq DESC LIMIT 200) t
        WHERE t.state = 'completed') AS top
FROM cron_schedules s

-- name: cron_runs
-- The schedule's completed jobs up to :top, newest first: their final attempt's run time
-- and what it printed (bytes, with the ones cut from the front).
SELECT j.seq, j.id, a.finished_at - a.started_at AS run_ms,
       coalesce(length(a.output), 0) + a.output_dropped AS out_bytes
FROM jobs j JOIN attempts a ON a.job_id = j.id AND a.number = j.runs
WHERE j.cron = :name AND j.state = 'completed' AND j.seq <= :top AND a.finished_at IS NOT NULL
ORDER BY j.seq DESC
LIMIT :limit

-- name: cron_judged
-- The guard that judges each completed job once: only the caller that finds the watermark
-- it read moves it on.
UPDATE cron_schedules SET judged_seq = :top WHERE name = :name AND judged_seq = :from
RETURNING name

-- name: cron_flag_suspect
-- A suspect success, flagged once (a row back: THIS call flagged it).
INSERT INTO cron_suspects (job_id, name, reason, flagged_at)
VALUES (:id, :name, :reason, :now)
ON CONFLICT (job_id) DO NOTHING
RETURNING job_id

-- name: cron_fire_hooks
-- A schedule's `overdue` (its episode began) or a job's `suspect` (it was flagged): one job
-- per matching hook, in queue `hooks`, in the transaction that made the change, shaped as
-- the jobs trigger's (hooks_on) with the schedule's name besides; :job is the suspect job,
-- or for `overdue` the schedule's latest job (NULL: none yet). Hooks narrowed by queue match
-- the schedule's queue.
INSERT INTO jobs (id, command, state, max_retries, priority, timeout, queue, cwd,
                  run_at, created_at, updated_at, hook)
SELECT lower(hex(randomblob(5))), h.command, 'pending',
       coalesce((SELECT CAST(value AS INTEGER) FROM config WHERE key = 'max-retries'), 3),
       0, (SELECT nullif(CAST(value AS REAL), 0) FROM config WHERE key = 'job-timeout'),
       'hooks', h.cwd, :now, :now, :now,
       json_object('name', h.name, 'event', :event, 'job', :job, 'cron', s.name)
FROM hooks AS h
JOIN cron_schedules AS s ON s.name = :name
WHERE :event IN (SELECT value FROM json_each(h.events))
  AND (h.queue IS NULL OR h.queue = s.queue) AND (h.cron IS NULL OR h.cron = s.name)
ORDER BY h.name

-- name: cron_count_suspect
UPDATE cron_schedules SET suspects = suspects + 1 WHERE name = :name

-- name: cron_prune_suspects
DELETE FROM cron_suspects
WHERE name = :name
  AND job_id NOT IN (SELECT job_id FROM cron_suspects WHERE name = :name
                     ORDER BY flagged_at DESC, job_id LIMIT :keep)

-- name: cron_suspects
SELECT job_id, reason, flagged_at FROM cron_suspects WHERE name = :name
ORDER BY flagged_at DESC, job_id LIMIT :limit

-- name: cron_delete_suspects
DELETE FROM cron_suspects WHERE name = :name

-- name: cron_last_job
SELECT id, state FROM jobs WHERE cron = :name ORDER BY seq DESC LIMIT 1

-- name: cron_insert_job
-- The tick's job, from the schedule's stored definition; limits it leaves open take the
-- config's values (:max_retries, :timeout). Due at :due (a tick plus its jitter), or at once
-- when that is NULL or past. A tick's id exists at most once.
INSERT INTO jobs (id, command, state, max_retries, priority, timeout, queue, cwd, env,
                  run_at, created_at, updated_at, cron, success_exit, no_retry_exit, deadline,
                  expires_at)
SELECT :id, command, 'pending', coalesce(max_retries, :max_retries), priority,
       coalesce(timeout, :timeout), queue, cwd, env, max(:now, coalesce(:due, :now)), :now,
       :now, name,
       json_extract(policies, '$.success_exit'), json_extract(policies, '$.no_retry_exit'),
       json_extract(policies, '$.deadline'),
       :now + CAST(json_extract(policies, '$.expires') * 1000 AS INTEGER)  -- after its tick
FROM cron_schedules WHERE name = :name
ON CONFLICT (id) DO NOTHING
RETURNING id

-- name: cron_record_skip
INSERT INTO cron_skipped (name, tick, blocked_by) VALUES (:name, :tick, :blocked_by)
ON CONFLICT (name, tick) DO NOTHING

-- name: cron_count_skip
UPDATE cron_schedules SET skipped = skipped + 1 WHERE name = :name

-- name: cron_prune_skipped
-- Only the latest :keep skipped ticks are kept (the count is kept whole).
DELETE FROM cron_skipped
WHERE name = :name
  AND tick <= (SELECT tick FROM cron_skipped WHERE name = :name
               ORDER BY tick DESC LIMIT 1 OFFSET :keep)

-- name: cron_skipped
SELECT tick, blocked_by FROM cron_skipped WHERE name = :name ORDER BY tick DESC LIMIT :limit

-- name: queue_settings
-- Queue settings: the paused, limited or rated queues (a row only while they are).
SELECT name, paused, concurrency_limit, rate_count, rate_ms, window_spec, window_tz
FROM queues ORDER BY name

-- name: queue_get
SELECT name, paused, concurrency_limit, rate_count, rate_ms, window_spec, window_tz
FROM queues WHERE name = :name

-- name: queue_limited
-- A row when queue :name has a limit (a finish whose guard failed frees a place in it).
SELECT 1 FROM queues WHERE name = :name AND concurrency_limit IS NOT NULL

-- name: queue_put
INSERT INTO queues (name, paused, concurrency_limit, updated_at, rate_count, rate_ms,
                    window_spec, window_tz, window_opens, window_closes)
VALUES (:name, :paused, :limit, :now, :rate_count, :rate_ms, :window_spec, :window_tz,
        :window_opens, :window_closes)
ON CONFLICT (name) DO UPDATE
SET paused = excluded.paused, concurrency_limit = excluded.concurrency_limit,
    updated_at = excluded.updated_at, rate_count = excluded.rate_count,
    rate_ms = excluded.rate_ms, window_spec = excluded.window_spec,
    window_tz = excluded.window_tz, window_opens = excluded.window_opens,
    window_closes = excluded.window_closes

-- name: queue_windows_ended
-- The windowed queues whose stretch has ended: the next one is worked out (windows.py).
SELECT name, window_spec, window_tz FROM queues
WHERE window_spec IS NOT NULL AND window_closes <= :now

-- name: queue_window_move
UPDATE queues SET window_opens = :opens, window_closes = :closes
WHERE name = :name

-- name: queue_forget_starts
-- A rate removed: the starts kept for it go.
DELETE FROM queue_starts WHERE queue = :name

-- name: queue_drop
DELETE FROM queues WHERE name = :name

-- name: queue_has_jobs
SELECT EXISTS (SELECT 1 FROM jobs WHERE queue = :name)

-- name: mutex_holder
-- The job that holds mutex :name now (running, or cancelled while it ran and not ended yet).
SELECT id FROM jobs INDEXED BY jobs_mutex_running WHERE mutex = :name AND state = 'processing'
UNION ALL
SELECT j.id FROM attempts a JOIN jobs j ON j.id = a.job_id
WHERE a.finished_at IS NULL AND j.state = 'cancelled' AND j.mutex = :name
LIMIT 1

-- name: queue_counts
-- Jobs per queue and state: one pass over the jobs (queue list is a command, not a hot path).
SELECT queue, state, count(*) FROM jobs GROUP BY queue, state

-- name: insert_job_unique
-- insert_job for a batch with unique keys (the rows' tenth element): a job whose
-- key a pending, failed or processing job holds (jobs_unique_key, migrations/0005), or an
-- earlier row of the batch, is not inserted. Returns the jobs inserted.
INSERT INTO jobs (id, command, state, max_retries, priority, timeout, queue, cwd, env,
                  run_at, created_at, updated_at, unique_key)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), 'pending',
       json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'),
       json_extract(value, '$[5]'), json_extract(value, '$[6]'), json_extract(value, '$[7]'),
       json_extract(value, '$[8]'), :now, :now, json_extract(value, '$[9]')
FROM json_each(:rows) WHERE true  -- (WHERE: SQLite's parser needs it before ON CONFLICT)
ON CONFLICT (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing')
DO NOTHING
RETURNING *

-- name: replace_waiting
-- `enqueue --on-duplicate replace`: the fields of the waiting job holding the key become the
-- duplicate's (not its id, key, dependencies or hold); a job running (or claimed meanwhile)
-- is left alone. Due at the duplicate's run_at, or now.
UPDATE jobs
SET command = :command, max_retries = :max_retries, priority = :priority,
    timeout = :timeout, queue = :queue, cwd = :cwd,
    env = :env, tags = :tags, mutex = :mutex,
    -- a GPU job counts its GPU in blocked_by (see mark_given)
    gpus = :gpus, blocked_by = blocked_by + (:gpus IS NOT NULL) - (gpus IS NOT NULL),
    gpus_assigned = NULL,
    run_at = coalesce(:run_at, :now), updated_at = :now
WHERE id = :id AND state IN ('pending', 'failed')
RETURNING id

-- name: debounce_waiting
-- `enqueue --debounce`: the waiting job holding the key is due that long from now.
UPDATE jobs SET run_at = :now + :debounce_ms, updated_at = :now
WHERE id = :id AND state IN ('pending', 'failed')
RETURNING id

-- name: job_with_unique_key
-- The job holding a unique key: the one pending, failed or processing with it.
SELECT * FROM jobs
WHERE unique_key = :key AND state IN ('pending', 'failed', 'processing')

-- name: unique_key_holder
-- Before a dead job goes back to pending: another job holding its unique key, if any.
SELECT other.id FROM jobs AS dead JOIN jobs AS other ON other.unique_key = dead.unique_key
WHERE dead.id = :id AND other.id <> dead.id
  AND other.state IN ('pending', 'failed', 'processing')

-- name: prune_candidates
-- Retention: finished jobs past it, a batch at a time. Read before the write lock
-- is taken (WAL readers block nobody), so that a scan past young finished jobs never holds
-- it. Through jobs_state: each final state's rows in insertion order, oldest first. As
-- purge, never a job that a waiting job still needs (see finished_unneeded).
SELECT id FROM jobs INDEXED BY jobs_state
WHERE state IN ('completed', 'dead', 'cancelled') AND finished_at < :now - :older_ms
  AND (state = 'completed' OR NOT has_dependents OR NOT EXISTS (
      SELECT 1 FROM job_dependencies d JOIN jobs w ON w.id = d.job_id
      WHERE d.depends_on = jobs.id AND w.state = 'pending' AND w.blocked_by > 0))
LIMIT :limit

-- --- deleting finished jobs: purge and retention --------------------------------------------
-- Both take their jobs (purge_lock, prune_lock), then judge in a later statement which of
-- them no waiting job needs (finished_unneeded), then delete those with what hangs on them.
-- The write lock makes the three one moment here; PostgreSQL locks the rows instead.

-- name: match_jobs
-- The next jobs after seq :after that a bulk action (`cancel --all` ...) applies to, in
-- seq order, at most :limit: one batch. :held NULL: either.
SELECT seq, id FROM jobs
WHERE state IN (SELECT value FROM json_each(:states))
  AND seq > :after
  AND (:held IS NULL OR (held <> 0) = :held)
  AND (:queue IS NULL OR queue = :queue)
  AND (:search IS NULL OR id LIKE :search ESCAPE '\' OR command LIKE :search ESCAPE '\')
  AND (:tags IS NULL OR jobs.tags IS NOT NULL  -- (most jobs have none: no JSON read)
                       AND (SELECT count(*) FROM json_each(jobs.tags) AS t
                            WHERE t.value IN (SELECT value FROM json_each(:tags)))
                           = json_array_length(:tags))
  AND (:older_ms IS NULL OR updated_at < :now - :older_ms)
  -- :unneeded (remove): never a job a waiting job still needs, as finished_unneeded
  AND (:unneeded IS NULL OR state = 'completed' OR NOT has_dependents OR NOT EXISTS (
      SELECT 1 FROM job_dependencies d JOIN jobs w ON w.id = d.job_id
      WHERE d.depends_on = jobs.id AND w.state = 'pending' AND w.blocked_by > 0))
ORDER BY seq
LIMIT :limit

-- name: hold_job
-- A held job counts one more in blocked_by: the claim's partial indexes (jobs_ready,
-- jobs_ready_queue, jobs_due) leave it out as they leave out a job waiting on dependencies,
-- so the claim never sees it and costs what it did. A dependency completing meanwhile
-- counts blocked_by down by its own one only (jobs_release_dependents).
UPDATE jobs SET held = 1, blocked_by = blocked_by + 1, updated_at = :now
WHERE id = :id AND state IN ('pending', 'failed') AND held = 0
RETURNING *

-- name: release_job
UPDATE jobs SET held = 0, blocked_by = blocked_by - 1, updated_at = :now
WHERE id = :id AND state IN ('pending', 'failed') AND held <> 0
RETURNING *

-- name: edit_job
-- `edit`: the columns named by :set_NAME take :NAME, the rest keep theirs; only a job that
-- is waiting (pending or failed). One statement under the write lock: a claim runs either
-- before it (the job is processing then, and nothing changes) or after it (the edited job).
UPDATE jobs SET
    command = CASE WHEN :set_command THEN :command ELSE command END,
    priority = CASE WHEN :set_priority THEN :priority ELSE priority END,
    timeout = CASE WHEN :set_timeout THEN :timeout ELSE timeout END,
    max_retries = CASE WHEN :set_max_retries THEN :max_retries ELSE max_retries END,
    queue = CASE WHEN :set_queue THEN :queue ELSE queue END,
    cwd = CASE WHEN :set_cwd THEN :cwd ELSE cwd END,
    env = CASE WHEN :set_env THEN :env ELSE env END,
    tags = CASE WHEN :set_tags THEN :tags ELSE tags END,
    run_at = CASE WHEN :set_run_at THEN :run_at ELSE run_at END,
    run_at_fixed = CASE WHEN :set_run_at_fixed THEN :run_at_fixed ELSE run_at_fixed END,
    success_exit = CASE WHEN :set_success_exit THEN :success_exit ELSE success_exit END,
    no_retry_exit = CASE WHEN :set_no_retry_exit THEN :no_retry_exit ELSE no_retry_exit END,
    deadline = CASE WHEN :set_deadline THEN :deadline ELSE deadline END,
    expires_at = CASE WHEN :set_expires_at THEN :expires_at ELSE expires_at END,
    -- a GPU job counts its GPU in blocked_by (see mark_given)
    gpus = CASE WHEN :set_gpus THEN :gpus ELSE gpus END,
    gpus_assigned = CASE WHEN :set_gpus THEN NULL ELSE gpus_assigned END,
    blocked_by = blocked_by + CASE WHEN :set_gpus THEN (:gpus IS NOT NULL) - (gpus IS NOT NULL)
                                   ELSE 0 END,
    updated_at = :now
WHERE id = :id AND state IN ('pending', 'failed')
RETURNING *

-- name: remove_lock
-- The jobs `remove` names, with their states; under the write lock they cannot change.
SELECT id, state FROM jobs WHERE id IN (SELECT value FROM json_each(:ids))

-- name: waiting_dependent
-- A waiting job that still needs job :id (why `remove` refuses it).
SELECT w.id FROM job_dependencies d JOIN jobs w ON w.id = d.job_id
WHERE d.depends_on = :id AND w.state = 'pending' AND w.blocked_by > 0
ORDER BY w.seq LIMIT 1

-- name: purge_lock
SELECT id FROM jobs
WHERE state IN (SELECT value FROM json_each(:states)) AND finished_at < :now - :older_ms

-- name: prune_lock
-- The candidates (prune_candidates, read before the lock) judged again under it: one may
-- have been retried meanwhile.
-- By id: `+state` keeps the planner off jobs_state, which it chose (a store has no
-- statistics) and which walked every finished job under the write lock: 0.45 s per batch
-- at a million finished jobs, 0.3 ms by id.
SELECT id FROM jobs
WHERE id IN (SELECT value FROM json_each(:ids))
  AND +state IN ('completed', 'dead', 'cancelled') AND finished_at < :now - :older_ms

-- name: finished_unneeded
-- Never a job that a waiting job still needs (a dead one: `dlq retry` of it resumes the
-- chain); a completed one goes, its dependents were released when it completed.
SELECT id FROM jobs
WHERE id IN (SELECT value FROM json_each(:ids))
  AND (state = 'completed' OR NOT has_dependents OR NOT EXISTS (
      SELECT 1 FROM job_dependencies d JOIN jobs w ON w.id = d.job_id
      WHERE d.depends_on = jobs.id AND w.state = 'pending' AND w.blocked_by > 0))

-- name: delete_attempts
DELETE FROM attempts WHERE job_id IN (SELECT value FROM json_each(:ids))

-- name: delete_dependencies
-- The deleted jobs' own edges (what they ran after); edges pointing at them stay, so a
-- dependent still lists a deleted dependency in `after`.
DELETE FROM job_dependencies WHERE job_id IN (SELECT value FROM json_each(:ids))

-- name: delete_jobs
DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(:ids))

-- name: mark_run_at_fixed
-- Jobs whose run_at the user gave as a wall-clock time (--run-at): see clock_shift_run_at.
UPDATE jobs SET run_at_fixed = 1 WHERE id IN (SELECT value FROM json_each(:ids))

-- name: mark_given
-- The fields of new jobs that insert_job leaves at their defaults, set in its transaction
-- for the jobs that give them: rows of [id, rerun_of, held, tags, mutex, success_exit,
-- no_retry_exit, deadline, expires_at, gpus]. After block_waiting, which sets blocked_by: a
-- held job counts one more (see hold_job), and so does one that asks for GPUs.
UPDATE jobs SET rerun_of = json_extract(given.value, '$[1]'),
    tags = json_extract(given.value, '$[3]'), mutex = json_extract(given.value, '$[4]'),
    success_exit = json_extract(given.value, '$[5]'),
    no_retry_exit = json_extract(given.value, '$[6]'),
    deadline = json_extract(given.value, '$[7]'),
    expires_at = json_extract(given.value, '$[8]'),
    held = json_extract(given.value, '$[2]'),
    gpus = json_extract(given.value, '$[9]'),
    blocked_by = blocked_by + json_extract(given.value, '$[2]')
                 + (json_extract(given.value, '$[9]') IS NOT NULL)
FROM json_each(:rows) AS given
WHERE jobs.id = json_extract(given.value, '$[0]')

-- name: clock_reading
-- The store's clock now, and this boot's last reading beside it (NULLs: none yet).
SELECT :now, r.store_ms, r.boot_ms
FROM (SELECT 1) LEFT JOIN clock_readings r ON r.boot_id = :boot_id

-- name: clock_lock
-- One correction at a time: the write lock, taken by BEGIN IMMEDIATE, already sees to it.
SELECT 1

-- name: clock_save
INSERT INTO clock_readings (boot_id, store_ms, boot_ms) VALUES (:boot_id, :store_ms, :boot_ms)
ON CONFLICT (boot_id) DO UPDATE SET store_ms = excluded.store_ms, boot_ms = excluded.boot_ms

-- name: clock_witnesses
-- Other boots that read the store's clock between :after and :until (see
-- clock_steps.witnesses)..
SELECT count(*) FROM clock_readings
WHERE boot_id <> :boot_id AND store_ms > :after AND store_ms <= :until

-- name: clock_forget
DELETE FROM clock_readings WHERE store_ms < :store_ms - :forget_ms

-- name: clock_shift_readings
-- The shift after a step of STEP ms (storage/clock_steps.py): a stamp inside
-- [new_from, new_until] was written after the step and stays; a time shifted past now
-- is now (a sign of life is never from the future).
UPDATE clock_readings SET store_ms = store_ms + :step
WHERE boot_id <> :boot_id AND (store_ms < :new_from OR store_ms > :new_until)

-- name: clock_shift_workers
UPDATE workers
SET heartbeat_at = min(heartbeat_at + :step, :now), started_at = min(started_at + :step, :now)
WHERE heartbeat_at < :new_from OR heartbeat_at > :new_until

-- name: clock_shift_claims
UPDATE jobs SET started_at = min(started_at + :step, :now)
WHERE state = 'processing' AND (started_at < :new_from OR started_at > :new_until)

-- name: clock_shift_run_at
-- Not a run_at the user gave as a wall-clock time, while it is still the one given (the
-- job never ran: a retry's run_at is a backoff, counted from its failure).
UPDATE jobs SET run_at = run_at + :step
WHERE state IN ('pending', 'failed') AND NOT (run_at_fixed <> 0 AND runs = 0)
  AND (updated_at < :new_from OR updated_at > :new_until)

-- name: clock_schedules
SELECT name, schedule, next_run_at, updated_at FROM cron_schedules WHERE next_run_at IS NOT NULL

-- name: clock_shift_schedule
UPDATE cron_schedules SET next_run_at = next_run_at + :step
WHERE name = :name AND next_run_at = :next_run_at

-- name: start_deadline
-- The deadline of a job whose first attempt has just started (guarded: still that attempt).
UPDATE jobs SET deadline_at = started_at + CAST(deadline * 1000 AS INTEGER)
WHERE id = :id AND state = 'processing' AND worker = :worker AND runs = :number
  AND deadline IS NOT NULL AND deadline_at IS NULL
RETURNING deadline_at

-- name: end_unstarted
-- A claimed job that must not start (expired, or past its deadline): ended without an
-- attempt (its number is given back), guarded as finish_job.
UPDATE jobs SET state = :state, last_error = :error, runs = runs - 1, worker = NULL,
    started_at = NULL, finished_at = :now, updated_at = :now, held = 0,
    attempts = attempts  -- (fires the dependents' triggers, as every end does)
WHERE id = :id AND state = 'processing' AND worker = :worker AND runs = :number
RETURNING id

-- name: expiring_ids
-- Waiting jobs whose expiry has come, oldest expiry first (jobs_expiring).
SELECT id FROM jobs
WHERE expires_at <= :now AND expires_at IS NOT NULL AND state IN ('pending', 'failed')
  AND runs = 0  -- never started
ORDER BY expires_at LIMIT :limit

-- name: expire_jobs
-- The listed jobs that still wait: cancelled as expired.
UPDATE jobs SET state = 'cancelled', last_error = 'expired', finished_at = :now,
    updated_at = :now, held = 0, attempts = attempts  -- (fires the dependents' triggers)
WHERE id IN (SELECT value FROM json_each(:ids)) AND state IN ('pending', 'failed')
  AND expires_at <= :now AND runs = 0
RETURNING id

-- name: snooze_job
-- `queuectl snooze` from attempt :number of a running job, counted unless it has snoozed
-- :max times already. No row: refused (the caller reads why).
UPDATE jobs SET snoozes = snoozes + 1
WHERE id = :id AND state = 'processing' AND runs = :number AND snoozes < :max
RETURNING snoozes

-- name: hook_insert
-- A new hook; no row back: the name is taken.
INSERT INTO hooks (name, events, command, queue, cron, cwd, created_at)
VALUES (:name, :events, :command, :queue, :cron, :cwd, :now)
ON CONFLICT (name) DO NOTHING
RETURNING name

-- name: hook_replace
INSERT INTO hooks (name, events, command, queue, cron, cwd, created_at)
VALUES (:name, :events, :command, :queue, :cron, :cwd, :now)
ON CONFLICT (name) DO UPDATE SET events = excluded.events, command = excluded.command,
    queue = excluded.queue, cron = excluded.cron, cwd = excluded.cwd
RETURNING name

-- name: hook_list
SELECT name, events, command, queue, cron, cwd FROM hooks ORDER BY name

-- name: hook_delete
DELETE FROM hooks WHERE name = :name RETURNING name

-- name: hooks_on
-- Made with the first hook and dropped with the last (hooks_off), in their transactions,
-- so that a store without hooks pays nothing per job: SQLite sets up a trigger's frame on
-- every firing, whatever its WHEN says. A job meets an event (it completed, failed and will
-- be retried, went dead, was cancelled, or was taken back from a lost worker): one job per
-- matching hook, in queue `hooks`, in the transaction that made the change (every end of
-- a job writes attempts, which this fires on; so the claim fires nothing). The hook job
-- takes the config's max-retries and job-timeout, as a job enqueued then would. A
-- schedule's events (overdue, suspect) insert the same rows: cron_fire_hooks.
CREATE TRIGGER IF NOT EXISTS jobs_hooks AFTER UPDATE OF attempts ON jobs
    WHEN NEW.hook IS NULL AND NEW.state <> OLD.state
     AND NEW.state IN ('completed', 'failed', 'dead', 'cancelled')
BEGIN
    INSERT INTO jobs (id, command, state, max_retries, priority, timeout, queue, cwd,
                      run_at, created_at, updated_at, hook)
    SELECT lower(hex(randomblob(5))), h.command, 'pending',
           coalesce((SELECT CAST(value AS INTEGER) FROM config WHERE key = 'max-retries'), 3),
           0, (SELECT nullif(CAST(value AS REAL), 0) FROM config WHERE key = 'job-timeout'),
           'hooks', h.cwd, NEW.updated_at, NEW.updated_at, NEW.updated_at,
           json_object('name', h.name, 'event', e.event, 'job', NEW.id)
    FROM hooks AS h
    JOIN (SELECT NEW.state AS event
          UNION ALL
          SELECT 'lost' WHERE NEW.last_error = 'worker lost' AND OLD.state = 'processing') AS e
      ON e.event IN (SELECT value FROM json_each(h.events))
    WHERE (h.queue IS NULL OR h.queue = NEW.queue) AND (h.cron IS NULL OR h.cron = NEW.cron)
    ORDER BY h.name, e.event;
END;

-- name: hooks_off
DROP TRIGGER IF EXISTS jobs_hooks

-- name: snapshot_stored
-- Whether snapshot :id is stored whole: its row, every file it counts, and each file's
-- contents (no row: not stored). Enqueue asks before it sends a snapshot, and again in its
-- transaction after storing one, so that a purge that forgot it meanwhile is noticed.
SELECT s.files = (SELECT count(*) FROM snapshot_files WHERE snapshot = s.id)
       AND NOT EXISTS (SELECT 1 FROM snapshot_files AS f
                       WHERE f.snapshot = s.id
                         AND NOT EXISTS (SELECT 1 FROM snapshot_blobs AS b WHERE b.id = f.blob))
FROM snapshots AS s WHERE s.id = :id

-- name: snapshot_blobs_missing
-- Which of the blob ids :blobs (a JSON array) the store lacks.
SELECT given.value FROM json_each(:blobs) AS given
WHERE NOT EXISTS (SELECT 1 FROM snapshot_blobs WHERE id = given.value)

-- name: snapshot_put
INSERT INTO snapshots (id, files, bytes, created_at) VALUES (:id, :files, :bytes, :now)
ON CONFLICT (id) DO NOTHING

-- name: snapshot_file_put
-- One row of many (executemany).
INSERT INTO snapshot_files (snapshot, path, mode, blob) VALUES (:snapshot, :path, :mode, :blob)
ON CONFLICT (snapshot, path) DO NOTHING

-- name: snapshot_blob_put
-- One row of many (executemany).
INSERT INTO snapshot_blobs (id, data) VALUES (:id, :data) ON CONFLICT (id) DO NOTHING

-- name: mark_snapshot
-- A new job's snapshot, in its insert's transaction. One row of many (executemany).
UPDATE jobs SET snapshot = :snapshot WHERE id = :id

-- name: snapshot_files_of
-- A snapshot's files, with each one's size, for a worker writing it out.
SELECT f.path, f.mode, f.blob, length(b.data)
FROM snapshot_files AS f JOIN snapshot_blobs AS b ON b.id = f.blob
WHERE f.snapshot = :id
ORDER BY f.path

-- name: snapshot_blobs_read
SELECT id, data FROM snapshot_blobs WHERE id IN (SELECT value FROM json_each(:ids))

-- name: snapshots_of_jobs
-- The snapshots the jobs :ids use (before they are deleted).
SELECT DISTINCT json_extract(snapshot, '$.id') FROM jobs
WHERE snapshot IS NOT NULL AND id IN (SELECT value FROM json_each(:ids))

-- name: snapshot_forget
-- Of the snapshots :ids, those no job uses any more, deleted; their ids back.
DELETE FROM snapshots
WHERE id IN (SELECT value FROM json_each(:ids))
  AND NOT EXISTS (SELECT 1 FROM jobs
                  WHERE snapshot IS NOT NULL AND json_extract(snapshot, '$.id') = snapshots.id)
RETURNING id

-- name: snapshot_forget_files
-- The files of the snapshots :ids (forgotten); their blob ids back.
DELETE FROM snapshot_files WHERE snapshot IN (SELECT value FROM json_each(:ids))
RETURNING blob

-- name: snapshot_forget_blobs
-- Of the blobs :blobs, those no snapshot's file names any more.
DELETE FROM snapshot_blobs
WHERE id IN (SELECT value FROM json_each(:blobs))
  AND NOT EXISTS (SELECT 1 FROM snapshot_files WHERE blob = snapshot_blobs.id)

-- --- GPUs (migrations/0023) -------------------------------------------------------------

-- name: gpus_register
-- A pool's GPUs (a JSON array of indexes) as rows of its host's GPU table, once each.
INSERT INTO gpus (host, gpu) SELECT :host, value FROM json_each(:gpus) WHERE true
ON CONFLICT (host, gpu) DO NOTHING

-- name: gpus_free
-- The GPUs of a pool (:gpus, a JSON array) that no running attempt holds, lowest first.
-- Read under the write lock, in the claim's transaction.
SELECT gpu FROM gpus
WHERE host = :host AND gpu IN (SELECT value FROM json_each(:gpus))
  AND NOT EXISTS (SELECT 1 FROM gpus_busy b WHERE b.host = gpus.host AND b.gpu = gpus.gpu)
ORDER BY gpu

-- name: claim_gpu
-- The best ready GPU job asking for at most :free GPUs, under the flow control of
-- claim_any (a paused, full, rated or closed queue; a held mutex), read inside the write
-- lock; used only by pools with GPUs. Its GPUs are given by give_gpus, in this transaction.
UPDATE jobs
SET state = 'processing', worker = :worker, runs = runs + 1, started_at = :now,
    finished_at = NULL, exit_code = NULL, updated_at = :now
WHERE seq = (SELECT seq FROM jobs INDEXED BY jobs_gpu_ready
             WHERE gpus IS NOT NULL AND state IN ('pending', 'failed') AND blocked_by = 1
               AND run_at <= :now AND gpus <= :free
               AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
               AND queue NOT IN (SELECT name FROM queues_blocked)
               AND queue NOT IN (SELECT name FROM queues AS q
                     WHERE q.rate_count <= (SELECT count(*) FROM queue_starts AS s
                                            WHERE s.queue = q.name
                                              AND s.started_at > :now - q.rate_ms)
                        OR (q.window_spec IS NOT NULL
                            AND NOT (q.window_opens <= :now AND :now < q.window_closes)))
               AND (mutex IS NULL OR mutex NOT IN (SELECT mutex FROM mutexes_held))
             ORDER BY priority DESC, run_at, seq LIMIT 1)
  AND EXISTS (SELECT 1 FROM workers WHERE id = :worker)
RETURNING *

-- name: give_gpus
-- The GPUs (:given, a JSON array) given to attempt :number of job :id.
UPDATE gpus SET job_id = :id, attempt = :number
WHERE host = :host AND gpu IN (SELECT value FROM json_each(:given))

-- name: job_gpus_assigned
UPDATE jobs SET gpus_assigned = :assigned WHERE id = :id

-- name: gpu_next_due
-- Milliseconds until the first GPU job of the queues asking for at most :owned GPUs that is
-- due later (one due now that the claim did not take waits for GPUs to be freed, which
-- wakes a worker); NULL: none.
SELECT min(run_at) - :now FROM jobs INDEXED BY jobs_gpu_ready
WHERE gpus IS NOT NULL AND state IN ('pending', 'failed') AND blocked_by = 1
  AND run_at > :now AND gpus <= :owned
  AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))

-- name: worker_gpus
-- The workers of pools with GPUs: id, host, the pool's GPUs (a JSON array).
SELECT id, host, gpus FROM workers WHERE gpus IS NOT NULL

-- name: gpus_in_use
SELECT host, gpu, job_id FROM gpus_busy
