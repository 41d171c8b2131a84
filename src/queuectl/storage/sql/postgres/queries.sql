-- Named queries for the PostgreSQL store. Parameters are %(named)s (psycopg); times are
-- epoch ms and "now" is always queuectl_now_ms(), the database's clock. A parameter that
-- may be NULL carries a cast so that the server knows its type.

-- name: insert_job
-- The whole batch in one statement (one round trip, one transaction in autocommit): one
-- array per column, a row per index. Returns only the "now" it used, from which the caller
-- knows every column it wrote (the rest are the defaults); the NOTIFY is delivered on commit.
-- 100,000 jobs: one statement instead of 100,000 pipelined INSERT ... RETURNING *.
WITH inserted AS (
    INSERT INTO jobs (id, command, state, max_retries, priority, timeout, queue, cwd, env,
                      run_at, created_at, updated_at)
    SELECT id, command, 'pending', max_retries, priority, timeout, queue, cwd, env,
           coalesce(run_at, queuectl_now_ms()), queuectl_now_ms(), queuectl_now_ms()
    FROM unnest(%(id)s::text[], %(command)s::text[], %(max_retries)s::bigint[],
                %(priority)s::bigint[], %(timeout)s::double precision[], %(queue)s::text[],
                %(cwd)s::text[], %(env)s::text[], %(run_at)s::bigint[])
         AS batch (id, command, max_retries, priority, timeout, queue, cwd, env, run_at)
    RETURNING 1
)
SELECT queuectl_now_ms(), (SELECT count(*) FROM inserted), pg_notify(%(channel)s, 'work')

-- name: get_job
SELECT * FROM jobs WHERE id = %(id)s

-- name: list_jobs
SELECT * FROM jobs
WHERE (%(state)s::text IS NULL OR state = %(state)s::text)
  AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
  AND (%(id_contains)s::text IS NULL OR strpos(id, %(id_contains)s::text) > 0)
  AND (%(cron)s::text IS NULL OR cron = %(cron)s::text)
  -- `--search` (a LIKE pattern: the text between two wildcards, its own wildcards and
  -- backslashes escaped): a substring of the id or the command in any case (LIKE on the
  -- lowered text: a third faster than strpos over it)
  AND (%(search)s::text IS NULL OR lower(id) LIKE lower(%(search)s::text) ESCAPE '\'
                                OR lower(command) LIKE lower(%(search)s::text) ESCAPE '\')
  -- `--tag` (a JSON array of distinct tags): the job holds every one
  AND (%(tags)s::jsonb IS NULL  -- (most jobs have none: no JSON read)
       OR tags IS NOT NULL AND tags::jsonb @> %(tags)s::jsonb)
ORDER BY seq DESC
LIMIT %(limit)s::bigint OFFSET %(offset)s

-- name: list_jobs_window
-- list_jobs with a search or tags, looking only at the newest window jobs of the store (by
-- seq, from the primary key's end at once), among which the other filters choose: a
-- search that matches nothing reads at most that many rows, never the whole table (see
-- documents.SEARCH_WINDOW), and one that matches many stops at the limit as before.
SELECT * FROM jobs
WHERE (%(state)s::text IS NULL OR state = %(state)s::text)
  AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
  AND (%(id_contains)s::text IS NULL OR strpos(id, %(id_contains)s::text) > 0)
  AND (%(cron)s::text IS NULL OR cron = %(cron)s::text)
  AND seq > (SELECT coalesce(max(seq), 0) FROM jobs) - %(window)s::bigint
  AND (%(search)s::text IS NULL OR lower(id) LIKE lower(%(search)s::text) ESCAPE '\'
                                OR lower(command) LIKE lower(%(search)s::text) ESCAPE '\')
  AND (%(tags)s::jsonb IS NULL  -- (most jobs have none: no JSON read)
       OR tags IS NOT NULL AND tags::jsonb @> %(tags)s::jsonb)
ORDER BY seq DESC
LIMIT %(limit)s::bigint OFFSET %(offset)s

-- name: beyond_window
-- Whether jobs older than the newest window match the filters a windowed search
-- narrows with (the indexes on state, queue and cron lead with them, then seq).
SELECT EXISTS (
    SELECT 1 FROM jobs
    WHERE (%(state)s::text IS NULL OR state = %(state)s::text)
      AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
      AND (%(cron)s::text IS NULL OR cron = %(cron)s::text)
      AND seq <= (SELECT coalesce(max(seq), 0) FROM jobs) - %(window)s::bigint)

-- name: attempts
-- A running attempt has no row until it ends (or saves output): the job row describes it.
SELECT job_id, number, worker, started_at, finished_at, exit_code, outcome, error
FROM attempts WHERE job_id = %(id)s
UNION ALL
SELECT id, runs, worker, started_at, NULL, NULL, NULL, NULL FROM jobs
WHERE id = %(id)s AND state = 'processing'
  AND NOT EXISTS (SELECT 1 FROM attempts
                  WHERE job_id = jobs.id AND number = jobs.runs)
ORDER BY 2

-- name: count_states
-- From the deltas the triggers on jobs keep in job_counts (a few rows), not from the jobs; only
-- the pending backlog is counted, as the entries of jobs_due (pending or failed: the whole
-- index, read without visiting rows where the visibility map allows) minus the failed ones:
-- a few times quicker than count(*) WHERE state = 'pending' (bench/RESULTS.md).
WITH counted AS (SELECT state, sum(n) AS n FROM job_counts GROUP BY state)
SELECT state, n FROM counted WHERE n <> 0
UNION ALL
SELECT 'pending', (SELECT count(*) FROM jobs WHERE state IN ('pending', 'failed')
                                                AND blocked_by = 0)
                  - coalesce((SELECT n FROM counted WHERE state = 'failed'), 0)
                  -- jobs waiting on dependencies are pending too (migrations/0007)
                  + (SELECT count(*) FROM jobs WHERE state = 'pending' AND blocked_by > 0)
                  -- failed held jobs are not in jobs_due, yet counted failed (0015)
                  + (SELECT count(*) FROM jobs WHERE held AND state = 'failed')

-- name: count_scheduled
-- Pending jobs due later: those of jobs_due (pending or failed) minus the failed ones. The
-- first count reads the index alone (no row visits where the visibility map allows: a few
-- times quicker, bench/RESULTS.md), the second only the failed jobs' rows.
-- A job waiting on dependencies counts as blocked (count_blocked), not as scheduled.
SELECT (SELECT count(*) FROM jobs
        WHERE state IN ('pending', 'failed') AND blocked_by = 0 AND run_at > queuectl_now_ms())
     - (SELECT count(*) FROM jobs WHERE state = 'failed' AND blocked_by = 0
                                    AND run_at > queuectl_now_ms())
     -- a GPU job counts its GPU in blocked_by (migrations/0029)
     + (SELECT count(*) FROM jobs
        WHERE gpus IS NOT NULL AND state IN ('pending', 'failed') AND blocked_by = 1
          AND state = 'pending' AND run_at > queuectl_now_ms())

-- name: claim_any
-- Takes the job in one statement (one round trip, one transaction): see queuectl_claim in
-- schema.sql (a worker that is not registered claims nothing; paused and limited queues:
-- queuectl_claim_steered). One row: the claimed job's columns, or NULLs and in "plan" what
-- the worker sleeps by (queuectl_idle_plan, read only when nothing was claimed: a CASE
-- evaluates its branch only when taken). The job's columns are rows.CLAIMED_COLUMNS, read by
-- position, then the plan: not every column of the row (those a Job has no field for
-- cost the worker their decoding). A column named here that a session's cached row type
-- of jobs predates (added meanwhile by another session's migration) reads as NULL.
WITH claimed AS MATERIALIZED (SELECT * FROM queuectl_claim(%(worker)s, NULL))
SELECT claimed.id, claimed.command, claimed.state, claimed.attempts, claimed.max_retries,
       claimed.priority, claimed.timeout, claimed.queue, claimed.run_at, claimed.created_at,
       claimed.updated_at, claimed.started_at, claimed.finished_at, claimed.exit_code,
       claimed.last_error, claimed.worker, claimed.cwd, claimed.env, claimed.runs,
       claimed.cron, claimed.unique_key, claimed.rerun_of, claimed.held, claimed.tags,
       claimed.success_exit, claimed.no_retry_exit, claimed.deadline,
       claimed.expires_at, claimed.deadline_at, claimed.hook, claimed.snapshot,
       CASE WHEN claimed.id IS NULL THEN queuectl_idle_plan(NULL) END AS plan
FROM (VALUES (1)) AS one LEFT JOIN claimed ON true

-- name: claim_queues
-- As claim_any.
WITH claimed AS MATERIALIZED (SELECT * FROM queuectl_claim(%(worker)s, %(queues)s::text[]))
SELECT claimed.id, claimed.command, claimed.state, claimed.attempts, claimed.max_retries,
       claimed.priority, claimed.timeout, claimed.queue, claimed.run_at, claimed.created_at,
       claimed.updated_at, claimed.started_at, claimed.finished_at, claimed.exit_code,
       claimed.last_error, claimed.worker, claimed.cwd, claimed.env, claimed.runs,
       claimed.cron, claimed.unique_key, claimed.rerun_of, claimed.held, claimed.tags,
       claimed.success_exit, claimed.no_retry_exit, claimed.deadline,
       claimed.expires_at, claimed.deadline_at, claimed.hook, claimed.snapshot,
       CASE WHEN claimed.id IS NULL THEN queuectl_idle_plan(%(queues)s::text[]) END AS plan
FROM (VALUES (1)) AS one LEFT JOIN claimed ON true

-- name: next_due
SELECT queuectl_idle_plan(%(queues)s::text[]) AS plan

-- name: finish_job
-- Records the attempt, moves the job on and, with claim, takes its next job: one statement
-- (queuectl_finish in schema.sql). Rows: the finished job (none when the job was taken over), then the
-- next job (state 'processing'); with claim and no next job, "plan" of the finished job's
-- row is what the worker sleeps by (queuectl_idle_plan: read after the finish, which it
-- sees).
WITH ended AS MATERIALIZED (
    SELECT * FROM queuectl_finish(
        %(id)s, %(worker)s, %(number)s, %(run_at)s::bigint, %(started_at)s::bigint, %(state)s,
        %(attempts)s, %(delay_ms)s::bigint,
        %(exit_code)s::integer, %(outcome)s, %(attempt_error)s::text, %(error)s::text,
        %(output)s::bytea, %(dropped)s::bigint, %(claim)s, %(queues)s::text[], %(notify)s::text)
)
SELECT ended.id, ended.command, ended.state, ended.attempts, ended.max_retries,
       ended.priority, ended.timeout, ended.queue, ended.run_at, ended.created_at,
       ended.updated_at, ended.started_at, ended.finished_at, ended.exit_code,
       ended.last_error, ended.worker, ended.cwd, ended.env, ended.runs, ended.cron,
       ended.unique_key, ended.rerun_of, ended.held, ended.tags, ended.success_exit,
       ended.no_retry_exit, ended.deadline, ended.expires_at, ended.deadline_at,
       ended.hook, ended.snapshot,  -- as claim_any
       CASE WHEN %(claim)s AND NOT EXISTS (SELECT 1 FROM ended WHERE state = 'processing')
            THEN queuectl_idle_plan(%(queues)s::text[]) END AS plan
FROM ended

-- name: save_output
-- The running attempt's output so far: its row is made from the job row the first time.
INSERT INTO attempts AS a (job_id, number, worker, run_at, started_at, output, output_dropped)
SELECT id, runs, worker, run_at, started_at, %(output)s, %(dropped)s FROM jobs
WHERE id = %(id)s AND runs = %(number)s AND state = 'processing'
ON CONFLICT (job_id, number) DO UPDATE
SET output = excluded.output, output_dropped = excluded.output_dropped
WHERE a.finished_at IS NULL

-- name: read_output
-- The latest attempt, or the one asked for; a running one may have no row yet (see
-- attempts): then it has printed nothing that was saved.
SELECT number, output, output_dropped, finished FROM (
    SELECT number, output, output_dropped, finished_at IS NOT NULL AS finished
    FROM attempts WHERE job_id = %(id)s
    UNION ALL
    SELECT runs, NULL, 0, false FROM jobs
    WHERE id = %(id)s AND state = 'processing'
      AND NOT EXISTS (SELECT 1 FROM attempts
                  WHERE job_id = jobs.id AND number = jobs.runs)
) AS latest
WHERE %(number)s::int IS NULL OR number = %(number)s::int
ORDER BY number DESC LIMIT 1

-- name: insert_worker
-- workers.state and current_job are not read (see all_workers): they are written once
-- here, for workers of an earlier queuectl that still read them.
INSERT INTO workers (id, host, pid, queues, state, current_job, started_at, heartbeat_at,
                     stop_requested, pid_scope, gpus)
VALUES (%(id)s, %(host)s, %(pid)s, %(queues)s, 'idle', NULL, queuectl_now_ms(),
        queuectl_now_ms(), false, %(pid_scope)s, %(gpus)s)
ON CONFLICT (id) DO UPDATE
SET host = excluded.host, pid = excluded.pid, queues = excluded.queues, state = 'idle',
    current_job = NULL, started_at = excluded.started_at,
    heartbeat_at = excluded.heartbeat_at, stop_requested = false,
    pid_scope = excluded.pid_scope, gpus = excluded.gpus

-- name: delete_worker
DELETE FROM workers WHERE id = %(id)s

-- name: heartbeat
-- The heartbeat and what check_in reads, in one statement (one round trip): stop is NULL
-- when the worker's row is gone (it was taken for lost; nothing is written then).
WITH beat AS (
    UPDATE workers SET heartbeat_at = queuectl_now_ms()
    WHERE id = %(worker)s
    RETURNING stop_requested
)
SELECT (SELECT stop_requested FROM beat),
       EXISTS (SELECT 1 FROM jobs WHERE id = %(job)s::text AND state = 'processing'
                 AND worker = %(worker)s AND runs = %(runs)s::integer),
       (SELECT id FROM jobs WHERE state = 'processing' AND worker = %(worker)s
          AND id IS DISTINCT FROM %(job)s::text ORDER BY started_at LIMIT 1),
       (SELECT coalesce(json_object_agg(key, value), '{}') FROM config)

-- name: check_in
-- What is asked of a worker (stop: NULL when its row is gone, taken for lost), and whether
-- it still holds the job it runs: read from the job's row, which must name this worker and
-- this attempt. also_held: a job that names the worker besides that one, which it does not
-- know it holds (a claim whose answer never reached it). And the stored config, so that
-- a worker keeps its snapshot fresh without a read of its own.
SELECT (SELECT stop_requested FROM workers WHERE id = %(worker)s),
       EXISTS (SELECT 1 FROM jobs WHERE id = %(job)s::text AND state = 'processing'
                 AND worker = %(worker)s AND runs = %(runs)s::integer),
       (SELECT id FROM jobs WHERE state = 'processing' AND worker = %(worker)s
          AND id IS DISTINCT FROM %(job)s::text ORDER BY started_at LIMIT 1),
       (SELECT coalesce(json_object_agg(key, value), '{}') FROM config)

-- name: all_workers
-- A worker's state and current job are read from the jobs it holds (the processing jobs
-- naming it, found through jobs_held), so they cannot disagree with the jobs, and a job
-- boundary writes no worker row. The latest start wins should a worker ever hold two jobs
-- (it never runs more than one). now_ms rides along: the database's clock.
SELECT id, host, pid, CASE WHEN job IS NULL THEN 'idle' ELSE 'busy' END, job, started_at,
       heartbeat_at, queues, queuectl_now_ms() AS now_ms, pid_scope
FROM (SELECT workers.*, (SELECT id FROM jobs
                         WHERE state = 'processing' AND worker = workers.id
                         ORDER BY started_at DESC LIMIT 1) AS job
      FROM workers) AS w
ORDER BY started_at, id

-- name: vitals
-- The workers a recovery may find lost: those whose pids are this process's to judge (this
-- host, this boot, this PID namespace: a dead pid is judged there alone) and those whose
-- heartbeat is older than the cutoff. Every live worker's pool makes a recovery pass every few seconds:
-- reading the whole fleet each time would cost the square of its size.
-- Each with its last sign of life: its heartbeat, or its latest claim of a job it still
-- holds if that came later (a worker back from a silence may claim before it heartbeats:
-- it is alive); and the cutoff, the database's now minus the lease (NULL: no silence is
-- judged).
SELECT id, host, pid_scope, pid,
       greatest(heartbeat_at, (SELECT max(started_at) FROM jobs
                               WHERE state = 'processing' AND worker = workers.id)),
       queuectl_now_ms() - %(lease_ms)s::bigint
FROM workers
WHERE (host = %(host)s AND pid_scope = %(pid_scope)s)
   OR heartbeat_at < queuectl_now_ms() - %(lease_ms)s::bigint


-- name: pg_lock_lost_workers
-- The workers judged lost, locked and judged again on their latest version (READ COMMITTED
-- re-reads a row changed since the judgment): one that heartbeat meanwhile is kept, and so
-- is one whose heartbeat is under way (its row locked: SKIP LOCKED). A heartbeat waiting on
-- the lock finds the row gone, and the worker learns it was taken for lost.
SELECT id FROM workers
WHERE id = ANY(%(dead)s::text[])
   OR (id = ANY(%(silent)s::text[])
       AND heartbeat_at < queuectl_now_ms() - %(lease_ms)s::bigint)
FOR UPDATE SKIP LOCKED

-- name: held_jobs
-- The jobs to hand back: those of workers whose process is gone; those of silent workers
-- claimed before the cutoff; and those whose worker's row is gone (it was taken for lost as
-- it claimed) once their claim is older than the cutoff: until then the claim is the sign
-- of life, and the worker, told its row went, registers again. A NULL lease judges no
-- silence. SKIP LOCKED: two recoverers never hand back the same job twice; the second one
-- passes over what the first is recovering.
SELECT * FROM jobs
WHERE state = 'processing'
  AND (worker IS NULL
       OR worker = ANY(%(dead)s::text[])
       OR (started_at < queuectl_now_ms() - %(lease_ms)s::bigint
           AND (worker = ANY(%(silent)s::text[]) OR worker NOT IN (SELECT id FROM workers))))
FOR UPDATE OF jobs SKIP LOCKED

-- name: close_orphan_attempts
-- Attempts of the lost workers left open (saved output, a cancel while running), except
-- that of a job still running under it (a claim newer than the cutoff).
UPDATE attempts SET finished_at = queuectl_now_ms(), outcome = 'worker_lost', error = 'worker lost'
WHERE finished_at IS NULL AND worker = ANY(%(lost)s::text[])
  AND NOT EXISTS (SELECT 1 FROM jobs WHERE id = attempts.job_id AND state = 'processing'
                    AND worker = attempts.worker AND runs = attempts.number)

-- name: delete_workers
DELETE FROM workers WHERE id = ANY(%(lost)s::text[])

-- name: keep_running_attempts
-- Before running jobs are cancelled: each one's attempt, which has no row until it ends, gets one
-- now (open), so it stays in the log even if its worker never reports back.
INSERT INTO attempts (job_id, number, worker, run_at, started_at)
SELECT id, runs, worker, run_at, started_at FROM jobs
WHERE id = ANY(%(ids)s::text[]) AND state = 'processing'
ON CONFLICT (job_id, number) DO NOTHING

-- name: cancel_jobs
-- Every listed job that is pending, failed or processing (the caller refuses the lot when
-- one is not, and rolls back).
UPDATE jobs SET state = 'cancelled', finished_at = queuectl_now_ms(), held = false,
    updated_at = queuectl_now_ms(),
    last_error = CASE WHEN state = 'processing' THEN 'cancelled while running' ELSE last_error END,
    -- the running attempt counts, as when its worker records a cancel it met
    attempts = attempts + CASE WHEN state = 'processing' THEN 1 ELSE 0 END
WHERE id = ANY(%(ids)s::text[]) AND state IN ('pending', 'failed', 'processing')
RETURNING *

-- name: retry_dead
-- A deadline counts again from the next attempt's start.
UPDATE jobs SET state = 'pending', attempts = 0, run_at = queuectl_now_ms(),
    updated_at = queuectl_now_ms(), deadline_at = NULL
WHERE id = %(id)s AND state = 'dead'
RETURNING *

-- name: dead_ids
SELECT id FROM jobs WHERE state = 'dead' ORDER BY seq

-- name: request_stop
UPDATE workers SET stop_requested = true RETURNING id

-- name: config_items
SELECT key, value FROM config ORDER BY key

-- name: config_set
INSERT INTO config (key, value) VALUES (%(key)s, %(value)s)
ON CONFLICT (key) DO UPDATE SET value = excluded.value

-- name: finished_attempts
SELECT job_id, worker, outcome, started_at, finished_at, run_at
FROM attempts WHERE finished_at >= %(since)s ORDER BY finished_at

-- name: dead_since
SELECT count(*) FROM jobs WHERE state = 'dead' AND finished_at >= %(since)s

-- name: lock_dependencies
-- The jobs named in `after` of a batch being enqueued (its own jobs included, inserted
-- just before in the same transaction), locked in id order (two such batches never
-- deadlock), marked as having dependents and returned with their latest state (a missing
-- one is unknown). The lock makes a finish of one of them wait for this transaction's
-- commit, and its release trigger then sees the new edges; a finish committed first is
-- read here as completed: no job waits for a completion that has already happened.
-- Only rows that need the flag are written: each write is a new row version in every
-- index, the bulk of this statement's work. A job many batches wait for is flagged once,
-- and a completed one never (it completes no more, and a purge never waits for it).
WITH locked AS (
    SELECT id, state, has_dependents FROM jobs WHERE id = ANY(%(ids)s::text[])
    ORDER BY id FOR NO KEY UPDATE
), flagged AS (
    UPDATE jobs SET has_dependents = true FROM locked
    WHERE jobs.id = locked.id AND NOT locked.has_dependents AND locked.state <> 'completed'
)
SELECT id, state FROM locked

-- name: insert_dependencies
INSERT INTO job_dependencies (job_id, depends_on, position, kind)
SELECT * FROM unnest(%(job_ids)s::text[], %(depends_on)s::text[], %(positions)s::integer[],
                     %(kinds)s::text[])

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
WHERE id = ANY(%(ids)s::text[])

-- name: dependencies_of
-- `after` of each listed job in the order given, with each dependency's state (NULL: purged,
-- after it completed) and whether the job still waits at all.
SELECT d.job_id, d.depends_on, dep.state, w.state = 'pending' AND w.blocked_by > 0, d.kind
FROM job_dependencies d
JOIN jobs w ON w.id = d.job_id
LEFT JOIN jobs dep ON dep.id = d.depends_on
WHERE d.job_id = ANY(%(ids)s::text[])
ORDER BY d.job_id, d.position

-- name: dependents_of
SELECT d.job_id FROM job_dependencies d JOIN jobs w ON w.id = d.job_id
WHERE d.depends_on = %(id)s ORDER BY w.seq

-- name: cancel_dependents
-- Everything that waits, directly or through others, on the cancelled jobs can never run:
-- cancelled too, naming the dependency that was cancelled (for a job waiting on several,
-- the first in id order). UNION stops at edges already walked. Only `--after` edges: a job
-- waiting by outcome is released instead (queuectl_outcome_dependents, fired for each job
-- this cancels).
WITH RECURSIVE doomed (id, cause) AS (
    SELECT d.job_id, d.depends_on FROM job_dependencies d
    WHERE d.depends_on = ANY(%(ids)s::text[]) AND d.kind = 'completed'
    UNION
    SELECT d.job_id, d.depends_on FROM job_dependencies d JOIN doomed ON d.depends_on = doomed.id
    WHERE d.kind = 'completed'
)
UPDATE jobs SET state = 'cancelled', finished_at = queuectl_now_ms(), held = false,
    updated_at = queuectl_now_ms(),
    last_error = 'dependency ''' || (SELECT min(cause) FROM doomed WHERE doomed.id = jobs.id)
                 || ''' cancelled'
WHERE id IN (SELECT id FROM doomed) AND state = 'pending' AND blocked_by > 0
RETURNING *

-- name: count_blocked
-- Waiting on dependencies; a held job counts as held (count_held), whatever it waits for.
-- A GPU job counts its GPU in blocked_by too (migrations/0029): blocked beyond that one.
SELECT count(*) FROM jobs WHERE state = 'pending' AND blocked_by > 0 AND NOT held
  AND blocked_by > (gpus IS NOT NULL)::int

-- name: count_held
SELECT count(*) FROM jobs WHERE held AND state IN ('pending', 'failed')

-- name: pg_fold_counts
-- Housekeeping with no SQLite counterpart (names starting pg_ are PostgreSQL's own): fold
-- job_counts' deltas into one row per state when they are more than min_rows; returns how
-- many rows were folded.
SELECT queuectl_fold_counts(%(min_rows)s)

-- name: pg_vacuum_counts
-- After a big fold (jobs inserted in bulk in final states, one delta each): every count and
-- fold would read the dead rows' pages until autovacuum came by, and a plain VACUUM cannot
-- shrink the table past the folded rows, written at its end. FULL rewrites the few live
-- rows (writers of deltas wait the few ms it takes).
VACUUM FULL job_counts

-- name: queue_settings
-- Queue settings: the paused, limited or rated queues (a row only while they are).
SELECT name, paused, concurrency_limit, rate_count, rate_ms, window_spec, window_tz
FROM queues ORDER BY name

-- name: queue_get
-- Locked: changes of one queue's settings are serialized (read, then put or drop).
SELECT name, paused, concurrency_limit, rate_count, rate_ms, window_spec, window_tz
FROM queues
WHERE name = %(name)s FOR UPDATE

-- name: queue_put
INSERT INTO queues (name, paused, concurrency_limit, updated_at, rate_count, rate_ms,
                    window_spec, window_tz, window_opens, window_closes)
VALUES (%(name)s, %(paused)s, %(limit)s::bigint, queuectl_now_ms(), %(rate_count)s::bigint,
        %(rate_ms)s::bigint, %(window_spec)s::text, %(window_tz)s::text,
        %(window_opens)s::bigint, %(window_closes)s::bigint)
ON CONFLICT (name) DO UPDATE
SET paused = excluded.paused, concurrency_limit = excluded.concurrency_limit,
    updated_at = excluded.updated_at, rate_count = excluded.rate_count,
    rate_ms = excluded.rate_ms, window_spec = excluded.window_spec,
    window_tz = excluded.window_tz, window_opens = excluded.window_opens,
    window_closes = excluded.window_closes

-- name: queue_windows_ended
-- The windowed queues whose stretch has ended: the next one is worked out (windows.py).
SELECT name, window_spec, window_tz FROM queues
WHERE window_spec IS NOT NULL AND window_closes <= queuectl_now_ms()

-- name: queue_window_move
UPDATE queues SET window_opens = %(opens)s, window_closes = %(closes)s
WHERE name = %(name)s

-- name: queue_forget_starts
-- A rate removed: the starts kept for it go.
DELETE FROM queue_starts WHERE queue = %(name)s

-- name: queue_drop
DELETE FROM queues WHERE name = %(name)s

-- name: queue_has_jobs
SELECT EXISTS (SELECT 1 FROM jobs WHERE queue = %(name)s)

-- name: mutex_holder
-- The job that holds mutex %(name)s now (running, or cancelled while it ran and not ended yet).
SELECT id FROM jobs WHERE mutex = %(name)s AND state = 'processing'
UNION ALL
SELECT j.id FROM attempts a JOIN jobs j ON j.id = a.job_id
WHERE a.finished_at IS NULL AND j.state = 'cancelled' AND j.mutex = %(name)s
LIMIT 1

-- name: queue_counts
-- Jobs per queue and state: one pass over the jobs (queue list is a command, not a hot path).
SELECT queue, state, count(*) FROM jobs GROUP BY queue, state

-- name: insert_job_unique
-- insert_job for a batch with unique keys: a job whose key a pending, failed or
-- processing job holds (jobs_unique_key, migrations/0008), or an earlier row of the batch,
-- is not inserted; a concurrent enqueue of the same key waits for the other's commit, then
-- finds it there. Returns the jobs inserted.
WITH inserted AS (
    INSERT INTO jobs (id, command, state, max_retries, priority, timeout, queue, cwd, env,
                      run_at, created_at, updated_at, unique_key)
    SELECT id, command, 'pending', max_retries, priority, timeout, queue, cwd, env,
           coalesce(run_at, queuectl_now_ms()), queuectl_now_ms(), queuectl_now_ms(), unique_key
    FROM unnest(%(id)s::text[], %(command)s::text[], %(max_retries)s::bigint[],
                %(priority)s::bigint[], %(timeout)s::double precision[], %(queue)s::text[],
                %(cwd)s::text[], %(env)s::text[], %(run_at)s::bigint[], %(unique_key)s::text[])
         WITH ORDINALITY
         AS batch (id, command, max_retries, priority, timeout, queue, cwd, env, run_at,
                   unique_key, n)
    ORDER BY n
    ON CONFLICT (unique_key)
        WHERE unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing')
    DO NOTHING
    RETURNING *
)
SELECT * FROM inserted

-- name: replace_waiting
-- `enqueue --on-duplicate replace`: the fields of the waiting job holding the key become the
-- duplicate's (not its id, key, dependencies or hold); a job running (or claimed meanwhile)
-- is left alone. Due at the duplicate's run_at, or now.
UPDATE jobs
SET command = %(command)s, max_retries = %(max_retries)s, priority = %(priority)s,
    timeout = %(timeout)s::double precision, queue = %(queue)s, cwd = %(cwd)s,
    env = %(env)s::text, tags = %(tags)s::text, mutex = %(mutex)s::text,
    -- a GPU job counts its GPU in blocked_by (see mark_given)
    gpus = %(gpus)s::integer, gpus_assigned = NULL,
    blocked_by = blocked_by + (%(gpus)s::integer IS NOT NULL)::int - (gpus IS NOT NULL)::int,
    run_at = coalesce(%(run_at)s::bigint, queuectl_now_ms()), updated_at = queuectl_now_ms()
WHERE id = %(id)s AND state IN ('pending', 'failed')
RETURNING id

-- name: debounce_waiting
-- `enqueue --debounce`: the waiting job holding the key is due that long from now.
UPDATE jobs SET run_at = queuectl_now_ms() + %(debounce_ms)s::bigint, updated_at = queuectl_now_ms()
WHERE id = %(id)s AND state IN ('pending', 'failed')
RETURNING id

-- name: job_with_unique_key
-- The job holding a unique key: the one pending, failed or processing with it.
SELECT * FROM jobs
WHERE unique_key = %(key)s AND state IN ('pending', 'failed', 'processing')

-- name: unique_key_holder
-- Before a dead job goes back to pending: another job holding its unique key, if any.
SELECT other.id FROM jobs AS dead JOIN jobs AS other ON other.unique_key = dead.unique_key
WHERE dead.id = %(id)s AND other.id <> dead.id
  AND other.state IN ('pending', 'failed', 'processing')

-- name: prune_candidates
-- Retention: finished jobs past it, a batch at a time, oldest first (jobs_finished).
-- As purge, never a job that a waiting job still needs (see finished_unneeded).
SELECT id FROM jobs
WHERE state IN ('completed', 'dead', 'cancelled')
  AND finished_at < queuectl_now_ms() - %(older_ms)s::bigint
  AND (state = 'completed' OR NOT has_dependents OR NOT EXISTS (
      SELECT 1 FROM job_dependencies d JOIN jobs w ON w.id = d.job_id
      WHERE d.depends_on = jobs.id AND w.state = 'pending' AND w.blocked_by > 0))
ORDER BY finished_at LIMIT %(limit)s

-- --- deleting finished jobs: purge and retention --------------------------------------------
-- Both lock their jobs first (purge_lock, prune_lock), then judge in a LATER statement, which
-- reads what committed since, which of them no waiting job needs (finished_unneeded). In one
-- statement the judgement would read the statement's snapshot even for a row whose lock it
-- waited for: an enqueue that had just made a dead job a dependency (lock_dependencies holds
-- its row) would commit, and the job be deleted under its new dependent, stranding it. Once
-- locked, no enqueue can add a dependent (lock_dependencies waits).

-- name: match_jobs
-- The next jobs after seq :after that a bulk action (`cancel --all` ...) applies to, in
-- seq order, at most :limit: one batch. :held NULL: either.
SELECT seq, id FROM jobs
WHERE state = ANY(%(states)s::text[])
  AND seq > %(after)s::bigint
  AND (%(held)s::boolean IS NULL OR held = %(held)s::boolean)
  AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
  AND (%(search)s::text IS NULL OR lower(id) LIKE lower(%(search)s::text) ESCAPE '\'
                                OR lower(command) LIKE lower(%(search)s::text) ESCAPE '\')
  AND (%(tags)s::jsonb IS NULL  -- (most jobs have none: no JSON read)
       OR tags IS NOT NULL AND tags::jsonb @> %(tags)s::jsonb)
  AND (%(older_ms)s::bigint IS NULL
       OR updated_at < queuectl_now_ms() - %(older_ms)s::bigint)
  -- unneeded (remove): never a job a waiting job still needs, as finished_unneeded
  AND (%(unneeded)s::boolean IS NULL OR state = 'completed' OR NOT has_dependents
       OR NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs w ON w.id = d.job_id
                      WHERE d.depends_on = jobs.id AND w.state = 'pending'
                        AND w.blocked_by > 0))
ORDER BY seq
LIMIT %(limit)s::bigint

-- name: hold_job
-- A held job counts one more in blocked_by: the claim's partial indexes (jobs_ready,
-- jobs_ready_queue, jobs_due) leave it out as they leave out a job waiting on dependencies,
-- so the claim never sees it and costs what it did. A dependency completing meanwhile
-- counts blocked_by down by its own one only (queuectl_release_dependents).
UPDATE jobs SET held = true, blocked_by = blocked_by + 1, updated_at = queuectl_now_ms()
WHERE id = %(id)s AND state IN ('pending', 'failed') AND NOT held
RETURNING *

-- name: release_job
UPDATE jobs SET held = false, blocked_by = blocked_by - 1, updated_at = queuectl_now_ms()
WHERE id = %(id)s AND state IN ('pending', 'failed') AND held
RETURNING *

-- name: edit_job
-- `edit`: the columns named by set_NAME take NAME, the rest keep theirs; only a job that
-- is waiting (pending or failed). One statement: a claim that locked the row first leaves
-- it processing, so this changes nothing; a claim after it takes the edited job (the row
-- lock makes a claim pass over it meanwhile: SKIP LOCKED).
UPDATE jobs SET
    command = CASE WHEN %(set_command)s::boolean THEN %(command)s::text ELSE command END,
    priority = CASE WHEN %(set_priority)s::boolean THEN %(priority)s::bigint
                    ELSE priority END,
    timeout = CASE WHEN %(set_timeout)s::boolean THEN %(timeout)s::double precision
                   ELSE timeout END,
    max_retries = CASE WHEN %(set_max_retries)s::boolean THEN %(max_retries)s::bigint
                       ELSE max_retries END,
    queue = CASE WHEN %(set_queue)s::boolean THEN %(queue)s::text ELSE queue END,
    cwd = CASE WHEN %(set_cwd)s::boolean THEN %(cwd)s::text ELSE cwd END,
    env = CASE WHEN %(set_env)s::boolean THEN %(env)s::text ELSE env END,
    tags = CASE WHEN %(set_tags)s::boolean THEN %(tags)s::text ELSE tags END,
    run_at = CASE WHEN %(set_run_at)s::boolean THEN %(run_at)s::bigint ELSE run_at END,
    run_at_fixed = CASE WHEN %(set_run_at_fixed)s::boolean THEN %(run_at_fixed)s::boolean
                        ELSE run_at_fixed END,
    success_exit = CASE WHEN %(set_success_exit)s::boolean THEN %(success_exit)s::text
                        ELSE success_exit END,
    no_retry_exit = CASE WHEN %(set_no_retry_exit)s::boolean THEN %(no_retry_exit)s::text
                         ELSE no_retry_exit END,
    deadline = CASE WHEN %(set_deadline)s::boolean THEN %(deadline)s::double precision
                    ELSE deadline END,
    expires_at = CASE WHEN %(set_expires_at)s::boolean THEN %(expires_at)s::bigint
                      ELSE expires_at END,
    -- a GPU job counts its GPU in blocked_by (see mark_given)
    gpus = CASE WHEN %(set_gpus)s::boolean THEN %(gpus)s::integer ELSE gpus END,
    gpus_assigned = CASE WHEN %(set_gpus)s::boolean THEN NULL ELSE gpus_assigned END,
    blocked_by = blocked_by + CASE WHEN %(set_gpus)s::boolean
                                   THEN (%(gpus)s::integer IS NOT NULL)::int
                                        - (gpus IS NOT NULL)::int
                                   ELSE 0 END,
    updated_at = queuectl_now_ms()
WHERE id = %(id)s AND state IN ('pending', 'failed')
RETURNING *

-- name: remove_lock
-- The jobs `remove` names, with their states, locked in id order (as purge_lock and
-- lock_dependencies take them: none of them deadlock).
SELECT id, state FROM jobs WHERE id = ANY(%(ids)s::text[]) ORDER BY id FOR UPDATE

-- name: waiting_dependent
-- A waiting job that still needs job %(id)s (why `remove` refuses it).
SELECT w.id FROM job_dependencies d JOIN jobs w ON w.id = d.job_id
WHERE d.depends_on = %(id)s AND w.state = 'pending' AND w.blocked_by > 0
ORDER BY w.seq LIMIT 1

-- name: purge_lock
-- In id order, as lock_dependencies takes them: the two never deadlock.
SELECT id FROM jobs
WHERE state = ANY(%(states)s::text[]) AND finished_at < queuectl_now_ms() - %(older_ms)s::bigint
ORDER BY id
FOR UPDATE

-- name: prune_lock
-- The candidates (prune_candidates, read without locks) judged again on their locked rows
-- (one may have been retried meanwhile); SKIP LOCKED: workers pruning at once, or an enqueue
-- that names one, are passed over, never waited for.
SELECT id FROM jobs
WHERE id = ANY(%(ids)s::text[])
  AND state IN ('completed', 'dead', 'cancelled')
  AND finished_at < queuectl_now_ms() - %(older_ms)s::bigint
FOR UPDATE SKIP LOCKED

-- name: finished_unneeded
-- Never a job that a waiting job still needs (a dead one: `dlq retry` of it resumes the
-- chain); a completed one goes, its dependents were released when it completed.
SELECT id FROM jobs
WHERE id = ANY(%(ids)s::text[])
  AND (state = 'completed' OR NOT has_dependents OR NOT EXISTS (
      SELECT 1 FROM job_dependencies d JOIN jobs w ON w.id = d.job_id
      WHERE d.depends_on = jobs.id AND w.state = 'pending' AND w.blocked_by > 0))

-- name: delete_attempts
DELETE FROM attempts WHERE job_id = ANY(%(ids)s::text[])

-- name: delete_dependencies
-- The deleted jobs' own edges (what they ran after); edges pointing at them stay, so a
-- dependent still lists a deleted dependency in `after`.
DELETE FROM job_dependencies WHERE job_id = ANY(%(ids)s::text[])

-- name: delete_jobs
DELETE FROM jobs WHERE id = ANY(%(ids)s::text[])

-- name: pg_set_clock
-- A clock given to the store (tests): queuectl_now_ms() answers it on this connection until
-- it is set again. Never sent by a store that was given none.
SELECT set_config('queuectl.now_ms', %(now)s::text, false)

-- name: pg_notify
-- Wakes the listening workers once the transaction commits (repeats within it are folded
-- into one); the payload says what happened: work | stop | cancel.
SELECT pg_notify(%(channel)s, %(event)s)

-- --- recurring jobs (cron) -------------------------------------------------------------------
-- The same blocks as the SQLite store's, with the database's clock for "now".

-- name: cron_now
SELECT queuectl_now_ms()

-- name: cron_upsert
INSERT INTO cron_schedules AS s (name, schedule, tz, command, max_retries, priority, timeout,
                                 queue, cwd, env, overlap, catch_up, paused, next_run_at,
                                 skipped, created_at, updated_at, jitter_ms, alert_after_ms,
                                 policies)
VALUES (%(name)s, %(schedule)s, %(tz)s, %(command)s, %(max_retries)s::bigint, %(priority)s,
        %(timeout)s::double precision, %(queue)s, %(cwd)s, %(env)s::text, %(overlap)s,
        %(catch_up)s, false, %(next_run_at)s::bigint, 0, queuectl_now_ms(), queuectl_now_ms(),
        %(jitter_ms)s::bigint, %(alert_after_ms)s::bigint, %(policies)s::text)
ON CONFLICT (name) DO UPDATE
SET schedule = excluded.schedule, tz = excluded.tz, command = excluded.command,
    max_retries = excluded.max_retries, priority = excluded.priority,
    timeout = excluded.timeout, queue = excluded.queue, cwd = excluded.cwd, env = excluded.env,
    overlap = excluded.overlap, catch_up = excluded.catch_up, jitter_ms = excluded.jitter_ms,
    alert_after_ms = excluded.alert_after_ms, paused = false,
    next_run_at = excluded.next_run_at, updated_at = excluded.updated_at,
    policies = excluded.policies
WHERE %(replace)s
RETURNING name

-- name: cron_list
-- Every schedule (or the one named), with its latest job through jobs_cron, and its latest
-- success among its last 200 jobs (a bound: a read never walks a schedule's whole history;
-- one that has not succeeded in 200 runs has no last success to show): the completed tick
-- job of the latest tick (ids NAME@<tick> sort by tick, bytewise) and when it finished, and the
-- latest completed `cron run` job (NAME@run-...). The store's now is read with it (overdue
-- is judged on read), and the reason its latest completed job is suspect, if it is.
-- (The id found bytewise is compared back in the column's own collation: its index.)
SELECT x.*, (SELECT finished_at FROM jobs WHERE id = x.ok_tick_job COLLATE "default"
            ) AS ok_tick_finished
FROM (
    SELECT s.*, queuectl_now_ms() AS now_ms,
           (SELECT id FROM jobs WHERE cron = s.name ORDER BY seq DESC LIMIT 1) AS last_job,
           (SELECT state FROM jobs WHERE cron = s.name ORDER BY seq DESC LIMIT 1) AS last_state,
           (SELECT max(t.id COLLATE "C") FROM (
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
    WHERE %(name)s::text IS NULL OR s.name = %(name)s::text
) x
ORDER BY x.name

-- name: cron_delete
DELETE FROM cron_schedules WHERE name = %(name)s RETURNING name

-- name: cron_delete_skipped
DELETE FROM cron_skipped WHERE name = %(name)s

-- name: cron_set_paused
UPDATE cron_schedules
SET paused = %(paused)s, next_run_at = %(next_run_at)s::bigint, updated_at = queuectl_now_ms()
WHERE name = %(name)s
RETURNING name

-- name: cron_next
SELECT min(next_run_at) - queuectl_now_ms() FROM cron_schedules WHERE NOT paused

-- name: cron_due
SELECT *, queuectl_now_ms() AS now_ms FROM cron_schedules
WHERE NOT paused AND next_run_at <= queuectl_now_ms()
ORDER BY next_run_at

-- name: cron_advance
-- Two pools firing the same tick: the second waits on the row lock, then finds the tick
-- moved on and updates nothing (READ COMMITTED re-reads the row it waited for).
UPDATE cron_schedules SET next_run_at = %(next_run_at)s::bigint, updated_at = queuectl_now_ms()
WHERE name = %(name)s AND next_run_at = %(due)s AND NOT paused
RETURNING name

-- name: cron_watched
-- A worker that saw tick come (epoch ms): alive now (a heartbeat within lease_ms, by the
-- database's clock), started by the tick, and heartbeated since (so alive at it) or the one
-- firing (worker). A row whose last heartbeat came before the tick may be a worker that
-- died before it. No row: no pool ran when the tick came. Read only in a firing transaction.
SELECT 1 FROM workers
WHERE heartbeat_at >= queuectl_now_ms() - %(lease_ms)s::bigint
  AND started_at <= %(tick)s::bigint
  AND (heartbeat_at >= %(tick)s::bigint OR id = %(worker)s::text)
LIMIT 1

-- name: cron_alerting
-- The schedules with --alert-after (a pool judges their episodes).
SELECT name FROM cron_schedules WHERE alert_after_ms IS NOT NULL ORDER BY name

-- name: cron_overdue_begin
-- The overdue episode starts: only the first pool to find it overdue sets it (a row back),
-- so its `overdue` event is one, whatever the number of pools.
UPDATE cron_schedules SET overdue_since = queuectl_now_ms()
WHERE name = %(name)s AND overdue_since IS NULL
RETURNING name

-- name: cron_overdue_end
-- A success that finished after the episode began ends it: the next one can start.
UPDATE cron_schedules SET overdue_since = NULL
WHERE name = %(name)s AND overdue_since IS NOT NULL
  AND overdue_since <= %(ok_finished)s::bigint
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
-- The schedule's completed jobs up to top, newest first: their final attempt's run time and
-- what it printed (bytes, with the ones cut from the front).
SELECT j.seq, j.id, a.finished_at - a.started_at AS run_ms,
       coalesce(octet_length(a.output), 0) + a.output_dropped AS out_bytes
FROM jobs j JOIN attempts a ON a.job_id = j.id AND a.number = j.runs
WHERE j.cron = %(name)s AND j.state = 'completed' AND j.seq <= %(top)s::bigint
  AND a.finished_at IS NOT NULL
ORDER BY j.seq DESC
LIMIT %(limit)s

-- name: cron_judged
-- The guard that judges each completed job once: only the caller that finds the watermark
-- it read moves it on.
UPDATE cron_schedules SET judged_seq = %(top)s::bigint
WHERE name = %(name)s AND judged_seq = %(from)s::bigint
RETURNING name

-- name: cron_flag_suspect
-- A suspect success, flagged once (a row back: THIS call flagged it).
INSERT INTO cron_suspects (job_id, name, reason, flagged_at)
VALUES (%(id)s, %(name)s, %(reason)s, queuectl_now_ms())
ON CONFLICT (job_id) DO NOTHING
RETURNING job_id

-- name: cron_fire_hooks
-- A schedule's `overdue` (its episode began) or a job's `suspect` (it was flagged): one job
-- per matching hook, in queue `hooks`, in the transaction that made the change, shaped as
-- queuectl_fire_hooks' with the schedule's name besides; %(job)s is the suspect job, or for
-- `overdue` the schedule's latest job (NULL: none yet). Hooks narrowed by queue match the
-- schedule's queue.
INSERT INTO jobs (id, command, state, max_retries, priority, timeout, queue, cwd,
                  run_at, created_at, updated_at, hook)
SELECT substr(md5(random()::text || clock_timestamp()::text || h.name), 1, 10),
       h.command, 'pending',
       coalesce((SELECT value::bigint FROM config WHERE key = 'max-retries'), 3), 0,
       (SELECT nullif(value::double precision, 0) FROM config WHERE key = 'job-timeout'),
       'hooks', h.cwd, queuectl_now_ms(), queuectl_now_ms(), queuectl_now_ms(),
       json_build_object('name', h.name, 'event', %(event)s::text, 'job', %(job)s::text,
                         'cron', s.name)::text
FROM hooks AS h
JOIN cron_schedules AS s ON s.name = %(name)s
WHERE h.events::jsonb ? %(event)s::text
  AND (h.queue IS NULL OR h.queue = s.queue) AND (h.cron IS NULL OR h.cron = s.name)
ORDER BY h.name

-- name: cron_count_suspect
UPDATE cron_schedules SET suspects = suspects + 1 WHERE name = %(name)s

-- name: cron_prune_suspects
DELETE FROM cron_suspects
WHERE name = %(name)s
  AND job_id NOT IN (SELECT job_id FROM cron_suspects WHERE name = %(name)s
                     ORDER BY flagged_at DESC, job_id LIMIT %(keep)s)

-- name: cron_suspects
SELECT job_id, reason, flagged_at FROM cron_suspects WHERE name = %(name)s
ORDER BY flagged_at DESC, job_id LIMIT %(limit)s

-- name: cron_delete_suspects
DELETE FROM cron_suspects WHERE name = %(name)s

-- name: cron_last_job
SELECT id, state FROM jobs WHERE cron = %(name)s ORDER BY seq DESC LIMIT 1

-- name: cron_insert_job
INSERT INTO jobs (id, command, state, max_retries, priority, timeout, queue, cwd, env,
                  run_at, created_at, updated_at, cron, success_exit, no_retry_exit, deadline,
                  expires_at)
SELECT %(id)s, command, 'pending', coalesce(max_retries, %(max_retries)s), priority,
       coalesce(timeout, %(timeout)s::double precision), queue, cwd, env,
       greatest(queuectl_now_ms(), %(due)s::bigint), queuectl_now_ms(), queuectl_now_ms(), name,
       policies::jsonb ->> 'success_exit',
       policies::jsonb ->> 'no_retry_exit', (policies::jsonb ->> 'deadline')::double precision,
       queuectl_now_ms()  -- after its tick
           + ((policies::jsonb ->> 'expires')::double precision * 1000)::bigint
FROM cron_schedules WHERE name = %(name)s
ON CONFLICT (id) DO NOTHING
RETURNING id

-- name: cron_record_skip
INSERT INTO cron_skipped (name, tick, blocked_by) VALUES (%(name)s, %(tick)s, %(blocked_by)s)
ON CONFLICT (name, tick) DO NOTHING

-- name: cron_count_skip
UPDATE cron_schedules SET skipped = skipped + 1 WHERE name = %(name)s

-- name: cron_prune_skipped
DELETE FROM cron_skipped
WHERE name = %(name)s
  AND tick <= (SELECT tick FROM cron_skipped WHERE name = %(name)s
               ORDER BY tick DESC LIMIT 1 OFFSET %(keep)s)

-- name: cron_skipped
SELECT tick, blocked_by FROM cron_skipped WHERE name = %(name)s ORDER BY tick DESC
LIMIT %(limit)s

-- name: mark_run_at_fixed
-- Jobs whose run_at the user gave as a wall-clock time (--run-at): see clock_shift_run_at.
UPDATE jobs SET run_at_fixed = true WHERE id = ANY(%(ids)s::text[])

-- name: mark_given
-- The fields of new jobs that insert_job leaves at their defaults, set in its transaction
-- for the jobs that give them: one array per column. After block_waiting, which sets
-- blocked_by: a held job counts one more (see hold_job), and so does one that asks for GPUs.
UPDATE jobs SET rerun_of = given.rerun_of, held = given.held, tags = given.tags,
    mutex = given.mutex, success_exit = given.success_exit,
    no_retry_exit = given.no_retry_exit, deadline = given.deadline,
    expires_at = given.expires_at, gpus = given.gpus,
    blocked_by = blocked_by + given.held::int + (given.gpus IS NOT NULL)::int
FROM unnest(%(id)s::text[], %(rerun_of)s::text[], %(held)s::boolean[], %(tags)s::text[],
            %(mutex)s::text[], %(success_exit)s::text[], %(no_retry_exit)s::text[],
            %(deadline)s::double precision[], %(expires_at)s::bigint[], %(gpus)s::integer[])
     AS given (id, rerun_of, held, tags, mutex, success_exit, no_retry_exit, deadline,
               expires_at, gpus)
WHERE jobs.id = given.id

-- name: clock_reading
-- The server's clock now, and this boot's last reading beside it (NULLs: none yet). Now
-- as the statement runs, not as the transaction began: the boot-time clock is read just
-- before it, and a wait for clock_lock between the two would look like a step.
SELECT queuectl_clock_ms(), r.store_ms, r.boot_ms
FROM (SELECT 1) AS one LEFT JOIN clock_readings r ON r.boot_id = %(boot_id)s

-- name: clock_lock
-- One correction at a time: two pools that saw one step both moving the times by it would
-- move them twice. The one that waited reads the readings the other left.
LOCK TABLE clock_readings IN SHARE ROW EXCLUSIVE MODE

-- name: clock_save
INSERT INTO clock_readings (boot_id, store_ms, boot_ms)
VALUES (%(boot_id)s, %(store_ms)s, %(boot_ms)s)
ON CONFLICT (boot_id) DO UPDATE SET store_ms = excluded.store_ms, boot_ms = excluded.boot_ms

-- name: clock_witnesses
-- Other boots that read the store's clock between after and until (see
-- clock_steps.witnesses).
SELECT count(*) FROM clock_readings
WHERE boot_id <> %(boot_id)s AND store_ms > %(after)s::bigint AND store_ms <= %(until)s::bigint

-- name: clock_forget
DELETE FROM clock_readings WHERE store_ms < %(store_ms)s::bigint - %(forget_ms)s::bigint

-- name: clock_shift_readings
-- The shift after a step of STEP ms (storage/clock_steps.py): a stamp inside
-- [new_from, new_until] was written after the step and stays; a time shifted past now
-- is now (a sign of life is never from the future).
UPDATE clock_readings SET store_ms = store_ms + %(step)s::bigint
WHERE boot_id <> %(boot_id)s
  AND (store_ms < %(new_from)s::bigint OR store_ms > %(new_until)s::bigint)

-- name: clock_shift_workers
UPDATE workers
SET heartbeat_at = least(heartbeat_at + %(step)s::bigint, %(now)s::bigint),
    started_at = least(started_at + %(step)s::bigint, %(now)s::bigint)
WHERE heartbeat_at < %(new_from)s::bigint OR heartbeat_at > %(new_until)s::bigint

-- name: clock_shift_claims
UPDATE jobs SET started_at = least(started_at + %(step)s::bigint, %(now)s::bigint)
WHERE state = 'processing'
  AND (started_at < %(new_from)s::bigint OR started_at > %(new_until)s::bigint)

-- name: clock_shift_run_at
-- Not a run_at the user gave as a wall-clock time, while it is still the one given (the
-- job never ran: a retry's run_at is a backoff, counted from its failure).
UPDATE jobs SET run_at = run_at + %(step)s::bigint
WHERE state IN ('pending', 'failed') AND NOT (run_at_fixed AND runs = 0)
  AND (updated_at < %(new_from)s::bigint OR updated_at > %(new_until)s::bigint)

-- name: clock_schedules
SELECT name, schedule, next_run_at, updated_at FROM cron_schedules WHERE next_run_at IS NOT NULL

-- name: clock_shift_schedule
UPDATE cron_schedules SET next_run_at = next_run_at + %(step)s::bigint
WHERE name = %(name)s AND next_run_at = %(next_run_at)s::bigint

-- name: start_deadline
-- The deadline of a job whose first attempt has just started (guarded: still that attempt).
UPDATE jobs SET deadline_at = started_at + (deadline * 1000)::bigint
WHERE id = %(id)s AND state = 'processing' AND worker = %(worker)s AND runs = %(number)s
  AND deadline IS NOT NULL AND deadline_at IS NULL
RETURNING deadline_at

-- name: end_unstarted
-- A claimed job that must not start (expired, or past its deadline): ended without an
-- attempt (its number is given back), guarded as queuectl_finish.
UPDATE jobs SET state = %(state)s, last_error = %(error)s, runs = runs - 1, worker = NULL,
    started_at = NULL, finished_at = queuectl_now_ms(), updated_at = queuectl_now_ms(),
    held = false
WHERE id = %(id)s AND state = 'processing' AND worker = %(worker)s AND runs = %(number)s
RETURNING id

-- name: expiring_ids
-- Waiting jobs whose expiry has come, oldest expiry first (jobs_expiring).
SELECT id FROM jobs
WHERE expires_at <= queuectl_now_ms() AND expires_at IS NOT NULL
  AND state IN ('pending', 'failed')
  AND runs = 0  -- never started
ORDER BY expires_at LIMIT %(limit)s

-- name: expire_jobs
-- The listed jobs that still wait: cancelled as expired.
UPDATE jobs SET state = 'cancelled', last_error = 'expired', finished_at = queuectl_now_ms(),
    updated_at = queuectl_now_ms(), held = false
WHERE id = ANY(%(ids)s::text[]) AND state IN ('pending', 'failed')
  AND expires_at <= queuectl_now_ms() AND runs = 0
RETURNING id

-- name: snooze_job
-- `queuectl snooze` from attempt :number of a running job, counted unless it has snoozed
-- :max times already. No row: refused (the caller reads why).
UPDATE jobs SET snoozes = snoozes + 1
WHERE id = %(id)s AND state = 'processing' AND runs = %(number)s AND snoozes < %(max)s
RETURNING snoozes

-- name: hook_insert
-- A new hook; no row back: the name is taken.
INSERT INTO hooks (name, events, command, queue, cron, cwd, created_at)
VALUES (%(name)s, %(events)s, %(command)s, %(queue)s, %(cron)s, %(cwd)s, queuectl_now_ms())
ON CONFLICT (name) DO NOTHING
RETURNING name

-- name: hook_replace
INSERT INTO hooks (name, events, command, queue, cron, cwd, created_at)
VALUES (%(name)s, %(events)s, %(command)s, %(queue)s, %(cron)s, %(cwd)s, queuectl_now_ms())
ON CONFLICT (name) DO UPDATE SET events = excluded.events, command = excluded.command,
    queue = excluded.queue, cron = excluded.cron, cwd = excluded.cwd
RETURNING name

-- name: hook_list
SELECT name, events, command, queue, cron, cwd FROM hooks ORDER BY name

-- name: hook_delete
DELETE FROM hooks WHERE name = %(name)s RETURNING name

-- name: hooks_on
-- Made with the first hook and dropped with the last (hooks_off), in their transactions:
-- a store without hooks calls no function per end of a job (queuectl_fire_hooks). A
-- schedule's events (overdue, suspect) insert the same rows: cron_fire_hooks.
CREATE OR REPLACE TRIGGER jobs_hooks AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.hook IS NULL AND NEW.state <> OLD.state
                       AND NEW.state IN ('completed', 'failed', 'dead', 'cancelled'))
    EXECUTE FUNCTION queuectl_fire_hooks();

-- name: hooks_off
DROP TRIGGER IF EXISTS jobs_hooks ON jobs

-- name: snapshot_stored
-- Whether snapshot %(id)s is stored whole: its row, every file it counts, and each file's
-- contents (no row: not stored). Enqueue asks before it sends a snapshot, and again in its
-- transaction after storing one, so that a purge that forgot it meanwhile is noticed
-- (pg_snapshot_lock_shared keeps a purge from forgetting it between that check and the
-- commit).
SELECT s.files = (SELECT count(*) FROM snapshot_files WHERE snapshot = s.id)
       AND NOT EXISTS (SELECT 1 FROM snapshot_files AS f
                       WHERE f.snapshot = s.id
                         AND NOT EXISTS (SELECT 1 FROM snapshot_blobs AS b WHERE b.id = f.blob))
FROM snapshots AS s WHERE s.id = %(id)s

-- name: snapshot_blobs_missing
-- Which of the blob ids %(blobs)s the store lacks.
SELECT given FROM unnest(%(blobs)s::text[]) AS given
WHERE NOT EXISTS (SELECT 1 FROM snapshot_blobs WHERE id = given)

-- name: snapshot_put
INSERT INTO snapshots (id, files, bytes, created_at)
VALUES (%(id)s, %(files)s, %(bytes)s, queuectl_now_ms())
ON CONFLICT (id) DO NOTHING

-- name: snapshot_file_put
-- One row of many (executemany).
INSERT INTO snapshot_files (snapshot, path, mode, blob)
VALUES (%(snapshot)s, %(path)s, %(mode)s, %(blob)s)
ON CONFLICT (snapshot, path) DO NOTHING

-- name: snapshot_blob_put
-- One row of many (executemany).
INSERT INTO snapshot_blobs (id, data) VALUES (%(id)s, %(data)s) ON CONFLICT (id) DO NOTHING

-- name: mark_snapshot
-- A new job's snapshot, in its insert's transaction. One row of many (executemany).
UPDATE jobs SET snapshot = %(snapshot)s WHERE id = %(id)s

-- name: snapshot_files_of
-- A snapshot's files, with each one's size, for a worker writing it out.
SELECT f.path, f.mode, f.blob, octet_length(b.data)
FROM snapshot_files AS f JOIN snapshot_blobs AS b ON b.id = f.blob
WHERE f.snapshot = %(id)s
ORDER BY f.path

-- name: snapshot_blobs_read
SELECT id, data FROM snapshot_blobs WHERE id = ANY(%(ids)s::text[])

-- name: snapshots_of_jobs
-- The snapshots the jobs %(ids)s use (before they are deleted).
SELECT DISTINCT snapshot::jsonb ->> 'id' FROM jobs
WHERE snapshot IS NOT NULL AND id = ANY(%(ids)s::text[])

-- name: snapshot_forget
-- Of the snapshots %(ids)s, those no job uses any more, deleted; their ids back. Under
-- pg_snapshot_lock: no enqueue is storing one meanwhile, and those that did have committed.
DELETE FROM snapshots
WHERE id = ANY(%(ids)s::text[])
  AND NOT EXISTS (SELECT 1 FROM jobs
                  WHERE snapshot IS NOT NULL AND (snapshot::jsonb ->> 'id') = snapshots.id)
RETURNING id

-- name: snapshot_forget_files
-- The files of the snapshots %(ids)s (forgotten); their blob ids back.
DELETE FROM snapshot_files WHERE snapshot = ANY(%(ids)s::text[])
RETURNING blob

-- name: snapshot_forget_blobs
-- Of the blobs %(blobs)s, those no snapshot's file names any more.
DELETE FROM snapshot_blobs
WHERE id = ANY(%(blobs)s::text[])
  AND NOT EXISTS (SELECT 1 FROM snapshot_files WHERE blob = snapshot_blobs.id)

-- name: pg_snapshot_lock_shared
-- Storing a snapshot: many enqueues at once, never while a purge forgets snapshots.
SELECT pg_advisory_xact_lock_shared(hashtextextended('queuectl snapshots', 0))

-- name: pg_snapshot_lock
-- Forgetting snapshots: alone, after every enqueue storing one has committed.
SELECT pg_advisory_xact_lock(hashtextextended('queuectl snapshots', 0))

-- --- GPUs (migrations/0029) -------------------------------------------------------------

-- name: gpus_register
-- A pool's GPUs as rows of its host's GPU table, once each.
INSERT INTO gpus (host, gpu) SELECT %(host)s, gpu FROM unnest(%(gpus)s::integer[]) AS gpu
ON CONFLICT (host, gpu) DO NOTHING

-- name: pg_gpus_lock
-- The host's GPU lock, held to the end of the claim's transaction (see the gpus table).
SELECT pg_advisory_xact_lock(hashtextextended('queuectl gpus ' || %(host)s, 0))

-- name: gpus_free
-- The GPUs of a pool that no running attempt holds, lowest first: read after the host's
-- GPU lock was granted, in a statement of its own (a new snapshot: every GPU claim
-- committed before is seen).
SELECT gpu FROM gpus
WHERE host = %(host)s AND gpu = ANY(%(gpus)s::integer[])
  AND NOT EXISTS (SELECT 1 FROM gpus_busy b WHERE b.host = gpus.host AND b.gpu = gpus.gpu)
ORDER BY gpu

-- name: claim_gpu
-- The best ready GPU job asking for at most %(free)s GPUs (queuectl_claim_gpu); used only
-- by pools with GPUs. Its GPUs are given by give_gpus, in this transaction.
SELECT * FROM queuectl_claim_gpu(%(worker)s, coalesce(%(queues)s::text[], '{}'), %(free)s)

-- name: give_gpus
UPDATE gpus SET job_id = %(id)s, attempt = %(number)s
WHERE host = %(host)s AND gpu = ANY(%(given)s::integer[])

-- name: job_gpus_assigned
UPDATE jobs SET gpus_assigned = %(assigned)s WHERE id = %(id)s

-- name: gpu_next_due
-- Milliseconds until the first GPU job of the queues asking for at most %(owned)s GPUs
-- that is due later (one due now that the claim did not take waits for GPUs to be freed,
-- which wakes a worker); NULL: none.
SELECT min(run_at) - queuectl_now_ms() FROM jobs
WHERE gpus IS NOT NULL AND state IN ('pending', 'failed') AND blocked_by = 1
  AND run_at > queuectl_now_ms() AND gpus <= %(owned)s
  AND (%(queues)s::text[] IS NULL OR queue = ANY(%(queues)s::text[]))

-- name: worker_gpus
-- The workers of pools with GPUs: id, host, the pool's GPUs (a JSON array).
SELECT id, host, gpus FROM workers WHERE gpus IS NOT NULL

-- name: gpus_in_use
SELECT host, gpu, job_id FROM gpus_busy
