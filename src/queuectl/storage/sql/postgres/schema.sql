-- The PostgreSQL store's schema as its migrations leave it (migrations/ upgrade older
-- stores and create new ones; tests/contract/test_schema.py keeps this file equal to them:
-- tables, columns, indexes, constraints, triggers and the functions' bodies).
-- Times are bigint milliseconds since the epoch (UTC), as in the SQLite store, and "now" is
-- always the DATABASE's clock (queuectl_now_ms), never a client's: workers on hosts whose
-- clocks disagree still agree on what is due and who is lost.
CREATE FUNCTION queuectl_now_ms() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    -- now() is the transaction's start: one transaction sees one "now" throughout.
    -- A clock given to the store is the session's queuectl.now_ms (migrations/0013).
    AS $$ SELECT coalesce(nullif(current_setting('queuectl.now_ms', true), '')::bigint,
                          (extract(epoch FROM now()) * 1000)::bigint) $$;

CREATE TABLE jobs (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- insertion order
    id           text    NOT NULL UNIQUE,
    command      text    NOT NULL,
    state        text    NOT NULL,   -- pending | processing | completed | failed | dead | cancelled
    attempts     bigint  NOT NULL DEFAULT 0,   -- attempts finished (reset by dlq retry)
    -- Job.last_attempt: the number of the latest attempt started (numbers the log). The column
    -- keeps its first name: renaming it would break workers of the previous version that
    -- are still running while a new one migrates the store.
    runs         integer NOT NULL DEFAULT 0,
    max_retries  bigint  NOT NULL,   -- 64-bit like SQLite integers
    priority     bigint  NOT NULL DEFAULT 0,
    timeout      double precision,
    queue        text    NOT NULL DEFAULT 'default',
    cwd          text    NOT NULL,
    env          text,                         -- JSON object, or NULL
    run_at       bigint  NOT NULL,
    created_at   bigint  NOT NULL,
    updated_at   bigint  NOT NULL,
    started_at   bigint,                       -- of the latest attempt
    finished_at  bigint,
    exit_code    integer,
    last_error   text,
    worker       text,                         -- holding or last holding the job
    blocked_by   integer NOT NULL DEFAULT 0,   -- dependencies not completed yet (pending jobs)
    has_dependents boolean NOT NULL DEFAULT false, -- some job runs after this one
    cron         text,                         -- the schedule (cron add) that enqueued it
    unique_key   text,                         -- see jobs_unique_key
    run_at_fixed boolean NOT NULL DEFAULT false, -- run_at is a wall-clock time (--run-at)
    rerun_of     text,                         -- the ended job `rerun` made this one from
    held         boolean NOT NULL DEFAULT false, -- `hold`: counted in blocked_by too, so that
                                                 -- the claim's indexes leave it out
    tags         text,                          -- JSON array of strings, or NULL: none
    mutex        text,                          -- `enqueue --mutex`: see mutexes_held
    success_exit text,                          -- exit codes that complete it too: JSON array
    no_retry_exit text,                         -- exit codes that go dead at once: JSON array
    deadline     double precision,              -- seconds from the first attempt's start
    expires_at   bigint,                        -- never started after this (epoch ms)
    deadline_at  bigint,                        -- when the deadline passes (first start + it)
    snoozes      integer NOT NULL DEFAULT 0,    -- `queuectl snooze`s so far
    hook         text,                          -- a hook's job: JSON {name, event, job}
    snapshot     text,                          -- `enqueue --snapshot`: JSON {id, commit,
                                                -- dirty, bytes, dir}; see snapshots
    gpus         integer,                       -- `enqueue --gpus N`: see jobs_gpu_ready
    gpus_assigned text                          -- the GPUs given: JSON array of indexes
);

-- The claim walks this index in order and stops at the first due row that no other
-- claimer holds: its cost does not grow with finished jobs, which the index leaves out.
-- A job waiting on dependencies (blocked_by > 0) is not in it: the claim never sees one.
CREATE INDEX jobs_ready ON jobs (priority DESC, run_at, seq)
    WHERE state IN ('pending', 'failed') AND blocked_by = 0;
CREATE INDEX jobs_ready_queue ON jobs (queue, priority DESC, run_at, seq)
    WHERE state IN ('pending', 'failed') AND blocked_by = 0;
-- When is the next scheduled or backed-off job due? Lets idle workers sleep that long.
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('pending', 'failed') AND blocked_by = 0;
-- `status` counts the waiting jobs from here.
CREATE INDEX jobs_blocked ON jobs (seq) WHERE state = 'pending' AND blocked_by > 0;
-- `status` counts the held jobs from here; a claim never writes held, so never this index.
CREATE INDEX jobs_on_hold ON jobs (seq) WHERE held;
CREATE INDEX jobs_state ON jobs (state, seq);
CREATE INDEX jobs_queue ON jobs (queue, seq);
-- The processing jobs: which worker is busy with what, and what to recover.
CREATE INDEX jobs_held ON jobs (worker) WHERE state = 'processing';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('completed', 'dead', 'cancelled');

-- One row per attempt, written when it ends (or early: when a running attempt saves its
-- output, or its job is cancelled); until then the job's row describes it.
CREATE TABLE attempts (
    job_id         text    NOT NULL,
    number         integer NOT NULL,
    worker         text,
    run_at         bigint,                    -- when the job became due: queue wait
    started_at     bigint  NOT NULL,
    finished_at    bigint,
    exit_code      integer,
    outcome        text,                      -- how it ended (models.Outcome)
    error          text,
    output         bytea,                     -- the tail of what it printed
    output_dropped bigint  NOT NULL DEFAULT 0,  -- bytes cut from the front
    PRIMARY KEY (job_id, number)
);
CREATE INDEX attempts_finished ON attempts (finished_at);
CREATE INDEX attempts_open ON attempts (worker) WHERE finished_at IS NULL;

-- Registered workers. Whether one is busy, and with what, is read from the jobs it holds;
-- state and current_job are written once, for workers of an earlier queuectl.
CREATE TABLE workers (
    id             text    PRIMARY KEY,
    host           text    NOT NULL,
    pid            integer NOT NULL,
    queues         text    NOT NULL,          -- JSON array; empty = every queue
    state          text    NOT NULL,
    current_job    text,
    started_at     bigint  NOT NULL,
    heartbeat_at   bigint  NOT NULL,
    stop_requested boolean NOT NULL DEFAULT false,
    pid_scope      text    NOT NULL DEFAULT '',  -- BOOT_ID/PID_NAMESPACE its pid belongs to
    gpus           text                          -- its pool's GPUs: JSON array, or NULL
);

-- Values set by `config set`; defaults are not stored.
CREATE TABLE config (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- Counts per state without reading the jobs table: `status` (and anything polling it) reads
-- a few rows instead of scanning every job.
--
-- Every state but 'pending'. Pending jobs are counted from the jobs_due index (the backlog,
-- read index-only), so that enqueue, which only ever inserts pending jobs, calls no trigger
-- function: a fresh CLI connection compiling one would delay the commit that makes its
-- jobs visible to workers.
--
-- Triggers append signed deltas: (state, +n) / (state, -n). Appending takes no row lock, so
-- many workers finishing jobs at once never queue behind one "completed" counter row (an
-- UPDATE of shared counter rows would, and could deadlock against a multi-job cancel).
-- The sum per state is the count. queuectl_fold_counts() replaces the rows by their sums;
-- workers call it in their periodic housekeeping and `status` before it reads, so the table
-- stays a few rows plus the deltas of the last seconds.
CREATE TABLE job_counts (
    state text   NOT NULL,
    n     bigint NOT NULL
);

-- queuectl inserts only pending jobs; rows inserted otherwise (an import, a seed) in other
-- states are counted one by one (the WHEN clause is checked without calling the function).
CREATE FUNCTION queuectl_count_inserted() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (state, n) VALUES (NEW.state, 1);
    RETURN NULL;
END $$;

-- Deletes come in batches (purge): one delta row per state per statement, from the
-- statement's transition table.
CREATE FUNCTION queuectl_count_deleted() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (state, n)
    SELECT state, -count(*) FROM old_rows WHERE state <> 'pending' GROUP BY state;
    RETURN NULL;
END $$;

-- Updates come one job at a time (claim, finish, cancel, retry): a row trigger, and only
-- when the state changes.
CREATE FUNCTION queuectl_count_moved() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (state, n)
    SELECT state, n FROM (VALUES (OLD.state, -1), (NEW.state, 1)) AS d (state, n)
    WHERE state <> 'pending';
    RETURN NULL;
END $$;

CREATE FUNCTION queuectl_count_truncated() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM job_counts;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs
    FOR EACH ROW WHEN (NEW.state <> 'pending')
    EXECUTE FUNCTION queuectl_count_inserted();
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION queuectl_count_deleted();
CREATE TRIGGER jobs_count_update AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION queuectl_count_moved();
CREATE TRIGGER jobs_count_truncate AFTER TRUNCATE ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION queuectl_count_truncated();

-- Sums replace the deltas they fold, once there are more than p_min_rows rows (below that,
-- reading them costs less than writing: nothing is written, so no commit waits on the
-- disk); returns how many rows it folded. Rows appended meanwhile by transactions this one
-- does not see are left for the next fold; two folds at once delete disjoint rows (the
-- second skips rows the first deleted), so every delta is counted exactly once. plpgsql,
-- which keeps its statements' plans for the session (every pool's recovery pass runs it).
CREATE FUNCTION queuectl_fold_counts(p_min_rows bigint) RETURNS bigint
    LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    WITH many AS (SELECT count(*) > p_min_rows AS yes
                  FROM (SELECT 1 FROM job_counts LIMIT p_min_rows + 1) AS some_rows),
         gone AS (DELETE FROM job_counts WHERE (SELECT yes FROM many) RETURNING state, n),
         kept AS (INSERT INTO job_counts (state, n)
                  SELECT state, sum(n) FROM gone GROUP BY state HAVING sum(n) <> 0)
    SELECT count(*) INTO folded FROM gone;
    RETURN folded;
END $$;

-- Queue settings an operator changes while pools run: pause, concurrency limit; unique jobs.
-- A row exists only while its queue is paused or limited (a resume or `limit none` that
-- leaves it neither deletes it): a claim takes the queue-settings path below only then.
CREATE TABLE queues (
    name              text    PRIMARY KEY,
    paused            boolean NOT NULL DEFAULT false,
    concurrency_limit bigint,                   -- NULL: no limit
    updated_at        bigint  NOT NULL,
    rate_count        bigint,                   -- `queue rate`: N; NULL: no rate
    rate_ms           bigint,                   -- DUR in ms
    -- `queue window`: as given (NULL: none), its zone, and the stretch (ms) it is open now
    -- or opens next; after window_closes the queue stays closed until a worker's
    -- housekeeping works out the next stretch
    window_spec       text,
    window_tz         text,
    window_opens      bigint,
    window_closes     bigint
);

-- The clock as a statement inside a function reads it, for the start of a claimed attempt.
-- queuectl_now_ms() is the transaction's start, and a claim's UPDATE runs with a snapshot
-- taken later (a new one per statement of a plpgsql function in READ COMMITTED): it may
-- claim a job that a dependency's end released after the claim's transaction began, so a
-- start stamped at the transaction's start could precede the end that allowed it.
-- (A clock given to the store stands for it too: migrations/0013.)
CREATE FUNCTION queuectl_clock_ms() RETURNS bigint
    LANGUAGE sql VOLATILE
    AS $$ SELECT coalesce(nullif(current_setting('queuectl.now_ms', true), '')::bigint,
                          (extract(epoch FROM clock_timestamp()) * 1000)::bigint) $$;

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

-- How many jobs of queue p_queue run now: those processing, and those cancelled while
-- running whose process has not ended yet (its attempt's row, opened by the cancel, is still
-- open: the worker grants a grace before SIGKILL), so a cancel never lets a limit be passed.
CREATE FUNCTION queuectl_queue_running(p_queue text) RETURNS bigint
    LANGUAGE sql STABLE
    AS $$ SELECT (SELECT count(*) FROM (SELECT queue FROM jobs WHERE state = 'processing'
                                        OFFSET 0) AS running
                  WHERE running.queue = p_queue)
               + (SELECT count(*) FROM attempts a JOIN jobs j ON j.id = a.job_id
                  WHERE a.finished_at IS NULL AND j.state = 'cancelled' AND j.queue = p_queue) $$;

-- The queues no claim may take from right now, as a first look without locks: paused,
-- running as many jobs as their limit, started as many as their rate allows
-- (queuectl_queue_starts above), or outside their window (which needs no lock: no claim
-- moves it).
CREATE VIEW queues_blocked AS
SELECT name FROM queues
WHERE paused
   OR (concurrency_limit IS NOT NULL AND concurrency_limit <= queuectl_queue_running(name))
   OR rate_count <= queuectl_queue_starts(name, rate_ms)
   OR (window_spec IS NOT NULL
       AND NOT (window_opens <= queuectl_now_ms() AND queuectl_now_ms() < window_closes));

-- At most one job per unique key among the jobs that may still run. Jobs without a key
-- are not in the index, so it costs them nothing.
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing');

-- Housekeeping finds the waiting jobs whose expiry has come; jobs without one are not in it.
CREATE INDEX jobs_expiring ON jobs (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('pending', 'failed');

-- The worker's hot path as server-side functions: a claim, and a finish (which may claim
-- the next job too), are each ONE statement, so one round trip and one transaction. The
-- statements inside are planned once per connection (PL/pgSQL caches them).

-- Take the best ready job for p_worker (p_queues NULL or empty: any queue); nothing for a
-- worker that is not registered (taken for lost, it registers again before it claims).
-- Returns the claimed job, or no row.
-- While the queues table is empty (no queue paused or limited) and no ready job holds a
-- mutex, the claim is the two statements below; otherwise queuectl_claim_steered decides.
CREATE FUNCTION queuectl_claim(p_worker text, p_queues text[]) RETURNS SETOF jobs
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
CREATE FUNCTION queuectl_claim_steered(p_worker text, p_queues text[])
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

-- End attempt p_runs of job p_id held by p_worker, which p_worker claimed at
-- p_started_at when the job was due at p_run_at: record the attempt (its outcome, error
-- and output; completing a row saved while it ran, leaving one a recovery already closed),
-- move the job to p_state (p_delay_ms NULL keeps run_at, otherwise due that many ms from
-- now), and with p_claim take the worker's next job. One statement, so one round trip and
-- one transaction per job boundary.
-- Returns up to two rows: the finished job (absent if the job is no longer processing for
-- p_worker: taken over) and the next job, told apart by state: a finished job is never
-- 'processing', a claimed one always is.
-- p_notify: a channel to NOTIFY 'work' on (NULL: none) when the job went back in the queue,
-- or when it ended in a queue with a limit and freed a place that this finish does not fill
-- itself (no next job of that queue): a job held back by the limit may wait for it.
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
    job_queue text;
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

    -- A freed place (a cancelled job's too: its attempt closed above). The first look reads
    -- the queues table alone, which is empty while no queue is paused or limited.
    IF p_notify IS NOT NULL THEN
        PERFORM 1 FROM queues LIMIT 1;
        IF FOUND THEN
            SELECT queue INTO job_queue FROM jobs WHERE id = p_id;
            PERFORM 1 FROM queues WHERE name = job_queue AND concurrency_limit IS NOT NULL;
            IF FOUND AND (next_job.id IS NULL OR next_job.queue <> job_queue) THEN
                PERFORM pg_notify(p_notify, 'work');  -- delivered on commit
            END IF;
        END IF;
    END IF;
END $$;

-- The 15-parameter queuectl_finish that workers of queuectl before schema 4 call: the same
-- steps, with the attempt as claimed read from the job row (before the call can change it).
CREATE FUNCTION queuectl_finish(
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

-- Jobs that wait for other jobs (`enqueue --after`): the edges, kept as given (a purged
-- dependency stays listed in `after`).
CREATE TABLE job_dependencies (
    job_id     text    NOT NULL,
    depends_on text    NOT NULL,
    position   integer NOT NULL,              -- order as the user gave them
    -- what end releases the job: 'completed' (--after), 'any' (--after-any), 'failure'
    -- (--after-failure: dead or cancelled; a completion cancels the job, not needed)
    kind       text    NOT NULL DEFAULT 'completed',
    PRIMARY KEY (job_id, depends_on)
);
-- A completing job finds its dependents; a purge asks whether a job is still needed.
CREATE INDEX job_dependencies_depends_on ON job_dependencies (depends_on);

-- A dependency completes: its waiting dependents count one fewer (those waiting for its
-- failure are cancelled instead, not needed), in the transaction that
-- records the completion (whatever path completes it), all of them in one statement; those
-- now free wake idle workers on every host (NOTIFY on the channel of pgconn.CHANNEL,
-- delivered on commit).
CREATE FUNCTION queuectl_release_dependents() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    freed bigint;
BEGIN
    WITH released AS (
        UPDATE jobs SET blocked_by = blocked_by - 1, updated_at = queuectl_now_ms()
        WHERE id IN (SELECT job_id FROM job_dependencies
                     WHERE depends_on = NEW.id AND kind <> 'failure')
          AND state = 'pending' AND blocked_by > 0
        RETURNING blocked_by
    )
    SELECT count(*) INTO freed FROM released WHERE blocked_by = 0;
    UPDATE jobs SET state = 'cancelled', finished_at = queuectl_now_ms(),
        updated_at = queuectl_now_ms(), held = false,
        last_error = 'not needed: ''' || NEW.id || ''' completed'
    WHERE id IN (SELECT job_id FROM job_dependencies
                 WHERE depends_on = NEW.id AND kind = 'failure')
      AND state = 'pending' AND blocked_by > 0;
    IF freed > 0 THEN
        PERFORM pg_notify('queuectl', 'work');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_release_dependents AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.state = 'completed' AND OLD.state <> 'completed' AND NEW.has_dependents)
    EXECUTE FUNCTION queuectl_release_dependents();

-- A dependency ends dead or cancelled: the jobs waiting for any end, or for a failure,
-- count one fewer; on a cancel, those waiting for its completion are cancelled (their
-- own updates fire these triggers in turn, so a chain follows to its end).
CREATE FUNCTION queuectl_outcome_dependents() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    freed bigint;
BEGIN
    WITH released AS (
        UPDATE jobs SET blocked_by = blocked_by - 1, updated_at = queuectl_now_ms()
        WHERE id IN (SELECT job_id FROM job_dependencies
                     WHERE depends_on = NEW.id AND kind <> 'completed')
          AND state = 'pending' AND blocked_by > 0
        RETURNING blocked_by
    )
    SELECT count(*) INTO freed FROM released WHERE blocked_by = 0;
    IF NEW.state = 'cancelled' THEN
        UPDATE jobs SET state = 'cancelled', finished_at = queuectl_now_ms(),
            updated_at = queuectl_now_ms(), held = false,
            last_error = 'dependency ''' || NEW.id || ''' cancelled'
        WHERE id IN (SELECT job_id FROM job_dependencies
                     WHERE depends_on = NEW.id AND kind = 'completed')
          AND state = 'pending' AND blocked_by > 0;
    END IF;
    IF freed > 0 THEN
        PERFORM pg_notify('queuectl', 'work');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_outcome_dependents AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.state IN ('dead', 'cancelled') AND OLD.state <> NEW.state
                       AND NEW.has_dependents)
    EXECUTE FUNCTION queuectl_outcome_dependents();

-- Recurring jobs (cron): the schedules, and the ticks they skipped.
-- A schedule's jobs, newest first: its last job (cron list, the overlap check) in one step.
CREATE INDEX jobs_cron ON jobs (cron, seq) WHERE cron IS NOT NULL;


CREATE TABLE cron_schedules (
    name        text    PRIMARY KEY,
    schedule    text    NOT NULL,             -- as the user wrote it
    tz          text    NOT NULL,             -- IANA zone name
    command     text    NOT NULL,
    max_retries bigint,                       -- NULL: the config's when a tick fires
    priority    bigint  NOT NULL DEFAULT 0,
    timeout     double precision,             -- NULL: the config's job-timeout
    queue       text    NOT NULL DEFAULT 'default',
    cwd         text    NOT NULL,
    env         text,                         -- JSON object, or NULL
    overlap     text    NOT NULL,             -- skip | allow
    catch_up    text    NOT NULL,             -- latest | none
    paused      boolean NOT NULL DEFAULT false,
    next_run_at bigint,                       -- the next tick; NULL: it never ticks again
    skipped     bigint  NOT NULL DEFAULT 0,   -- ticks skipped (overlap), ever
    created_at  bigint  NOT NULL,
    updated_at  bigint  NOT NULL,
    jitter_ms   bigint,                       -- a tick's job is due up to this after it
    alert_after_ms bigint,                    -- overdue past this without a success
    overdue_since  bigint,                    -- the overdue episode under way began (NULL: none)
    suspects    bigint  NOT NULL DEFAULT 0,   -- suspect successes flagged, ever
    judged_seq  bigint  NOT NULL DEFAULT 0,   -- the latest completed job judged (jobs.seq)
    policies    text                         -- its jobs' policies: JSON object, or NULL
);
-- The earliest tick to come: what an idle worker sleeps until.
CREATE INDEX cron_due ON cron_schedules (next_run_at) WHERE NOT paused;

-- Suspect successes flagged (the latest kept per schedule), each job once.
CREATE TABLE cron_suspects (
    job_id     text PRIMARY KEY,
    name       text NOT NULL,
    reason     text NOT NULL,
    flagged_at bigint NOT NULL
);
CREATE INDEX cron_suspects_name ON cron_suspects (name, flagged_at);

CREATE TABLE cron_skipped (
    name       text   NOT NULL,
    tick       bigint NOT NULL,
    blocked_by text,                          -- the schedule's unfinished job at the time
    PRIMARY KEY (name, tick)
);

-- What an idle worker plans its sleep by (read in the statement of a claim or finish that
-- found it nothing to do). plpgsql, which keeps its statements' plans for the session.
-- {"due_ms": ms until the earliest claimable job of p_queues (NULL or empty: all) is due
-- (NULL: none waits), "held": false, "tick_ms": ms until the next tick of a schedule
-- (NULL: none)}. Jobs of blocked queues (paused, or running their limit) are not waited
-- for: a freed place or a resume wakes a worker. ("held" said whether a due job waited for
-- a limit, and made workers poll; it stays, false, for the previous version's workers.)
-- VOLATILE, so that it reads with a snapshot of its own: called after a finish in the same
-- statement, it sees that finish's retry and the dependents it released (a STABLE function
-- reads the calling statement's snapshot, taken before it).
CREATE FUNCTION queuectl_idle_plan(p_queues text[]) RETURNS jsonb
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

-- The last reading of the server's clock beside a host's boot-time clock (CLOCK_BOOTTIME,
-- which never steps and counts a suspend), one per boot of each host that runs workers:
-- two readings of one boot that moved apart by more than the drift allows show a step of
-- the server's clock (boot-time readings of different hosts are never compared).
CREATE TABLE clock_readings (
    boot_id  text   PRIMARY KEY,              -- the kernel's id of the boot (hostinfo.boot_id)
    store_ms bigint NOT NULL,                 -- the server's clock, epoch ms
    boot_ms  bigint NOT NULL                  -- CLOCK_BOOTTIME of that boot, ms
);

-- `enqueue --mutex NAME`: at most one job holding NAME runs at once, across every host.
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

-- The end of an attempt of a job that holds a mutex (a finish, a recovery, or the end of a
-- job cancelled while it ran) frees the mutex: an idle worker is woken (delivered on commit)
-- for a job that waited for it. The triggers' WHEN leaves every other job's end alone.
CREATE FUNCTION queuectl_mutex_freed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('queuectl', 'work');
    RETURN NULL;
END $$;

-- (GPUs given to the attempt are freed too: migrations/0029)
CREATE TRIGGER jobs_mutex_freed AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state = 'processing' AND NEW.state <> 'processing'
                       AND (OLD.mutex IS NOT NULL OR OLD.gpus_assigned IS NOT NULL))
    EXECUTE FUNCTION queuectl_mutex_freed();

-- A job cancelled while it ran holds its mutex until its attempt's row, opened by the
-- cancel, is closed (rows are opened while a job runs only by a cancel or saved output).
CREATE FUNCTION queuectl_mutex_freed_by_attempt() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM jobs WHERE id = NEW.job_id AND state = 'cancelled'
                          AND (mutex IS NOT NULL OR gpus_assigned IS NOT NULL);
    IF FOUND THEN
        PERFORM pg_notify('queuectl', 'work');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER attempts_mutex_freed AFTER UPDATE OF finished_at ON attempts
    FOR EACH ROW WHEN (OLD.finished_at IS NULL AND NEW.finished_at IS NOT NULL)
    EXECUTE FUNCTION queuectl_mutex_freed_by_attempt();

-- Hooks (`hook add`): a job enqueued when a job meets one of the hook's events.
CREATE TABLE hooks (
    name       text    PRIMARY KEY,
    events     text    NOT NULL,              -- JSON array: completed, failed, dead, ...
    command    text    NOT NULL,
    queue      text,                          -- only jobs of this queue (NULL: any)
    cron       text,                          -- only jobs of this schedule (NULL: any)
    cwd        text    NOT NULL,              -- where its jobs run
    created_at bigint  NOT NULL
);

-- A job meets an event (it completed, failed and will be retried, went dead, was cancelled,
-- or was taken back from a lost worker): one job per matching hook, in queue `hooks`, in
-- the transaction that made the change, whatever path made it; idle workers on every host
-- are woken. Its trigger (queries.sql: hooks_on) exists while some hook does. The hook job takes the config's max-retries and job-timeout, as a job
-- enqueued then would.
CREATE FUNCTION queuectl_fire_hooks() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    made bigint;
BEGIN
    PERFORM 1 FROM hooks LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    WITH made_jobs AS (
        INSERT INTO jobs (id, command, state, max_retries, priority, timeout, queue, cwd,
                          run_at, created_at, updated_at, hook)
        SELECT substr(md5(random()::text || clock_timestamp()::text || h.name), 1, 10),
               h.command, 'pending',
               coalesce((SELECT value::bigint FROM config WHERE key = 'max-retries'), 3), 0,
               (SELECT nullif(value::double precision, 0) FROM config
                WHERE key = 'job-timeout'),
               'hooks', h.cwd, queuectl_now_ms(), queuectl_now_ms(), queuectl_now_ms(),
               json_build_object('name', h.name, 'event', e.event, 'job', NEW.id)::text
        FROM hooks AS h
        JOIN (SELECT NEW.state AS event
              UNION ALL
              SELECT 'lost' WHERE NEW.last_error = 'worker lost'
                              AND OLD.state = 'processing') AS e
          ON h.events::jsonb ? e.event
        WHERE (h.queue IS NULL OR h.queue = NEW.queue)
          AND (h.cron IS NULL OR h.cron = NEW.cron)
        ORDER BY h.name, e.event
        RETURNING 1
    )
    SELECT count(*) INTO made FROM made_jobs;
    IF made > 0 THEN
        PERFORM pg_notify('queuectl', 'work');
    END IF;
    RETURN NULL;
END $$;

-- `enqueue --snapshot`: code frozen at enqueue. A snapshot is a git tree, kept once under
-- its tree id; its files name their contents by git blob id, and a blob is kept once
-- whatever trees share it. A job's snapshot column is JSON {id, commit, dirty, bytes,
-- dir}; jobs_snapshot finds the jobs using a tree when purge and retention forget it.
-- Storing a snapshot and forgetting one are kept apart by an advisory lock (queries.sql:
-- snapshot_lock_shared, snapshot_lock).
CREATE INDEX jobs_snapshot ON jobs (((snapshot::jsonb) ->> 'id'))
    WHERE snapshot IS NOT NULL;
CREATE TABLE snapshots (
    id         text   PRIMARY KEY,            -- git tree id
    files      bigint NOT NULL,               -- rows in snapshot_files when stored whole
    bytes      bigint NOT NULL,               -- the files' total size
    created_at bigint NOT NULL
);
CREATE TABLE snapshot_files (
    snapshot text    NOT NULL,                -- snapshots.id
    path     bytea   NOT NULL,                -- from the tree's root, as git names it
    mode     integer NOT NULL,                -- 0o100644, 0o100755 or 0o120000 (a symlink)
    blob     text    NOT NULL,                -- snapshot_blobs.id
    PRIMARY KEY (snapshot, path)
);
CREATE INDEX snapshot_files_blob ON snapshot_files (blob);
CREATE TABLE snapshot_blobs (
    id   text  PRIMARY KEY,                   -- git blob id
    data bytea NOT NULL
);

-- GPUs: `worker start --gpus LIST` (the pool owns these GPUs of its host) and
-- `enqueue --gpus N` (the job runs only in a pool with N of its GPUs free).
-- A job that asks for GPUs counts one more in blocked_by (as a held one does): the
-- ordinary claim's indexes leave it out, so pools without GPUs never see it and their
-- claim costs what it did; a pool with GPUs looks for it in jobs_gpu_ready
-- (queuectl_claim_gpu). jobs.gpus: GPUs asked for (NULL: none); jobs.gpus_assigned: JSON
-- array of the GPU indexes given; workers.gpus: JSON array of its pool's GPUs (NULL: none).

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
