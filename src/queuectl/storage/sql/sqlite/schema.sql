-- The SQLite store's schema as its migrations leave it (migrations/ upgrade older stores
-- and create new ones; tests/contract/test_schema.py keeps this file equal to them).
-- Times are integer milliseconds since the epoch (UTC).

CREATE TABLE jobs (
    seq          INTEGER PRIMARY KEY,         -- insertion order: breaks priority/run_at ties
    id           TEXT    NOT NULL UNIQUE,
    command      TEXT    NOT NULL,
    state        TEXT    NOT NULL,            -- pending | processing | completed | failed
                                              -- | dead | cancelled
    attempts     INTEGER NOT NULL DEFAULT 0,  -- attempts finished (reset by dlq retry)
    runs         INTEGER NOT NULL DEFAULT 0,  -- Job.last_attempt: the latest attempt's number
                                              -- (see the PostgreSQL schema for the name)
    max_retries  INTEGER NOT NULL,
    priority     INTEGER NOT NULL DEFAULT 0,
    timeout      REAL,
    queue        TEXT    NOT NULL DEFAULT 'default',
    cwd          TEXT    NOT NULL,
    env          TEXT,                        -- JSON object, or NULL
    run_at       INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    started_at   INTEGER,                     -- of the latest attempt
    finished_at  INTEGER,
    exit_code    INTEGER,
    last_error   TEXT,
    worker       TEXT,                        -- holding or last holding the job
    blocked_by   INTEGER NOT NULL DEFAULT 0,  -- dependencies not completed yet (pending jobs)
    has_dependents INTEGER NOT NULL DEFAULT 0, -- some job runs after this one
    cron         TEXT,                        -- the schedule (cron add) that enqueued it
    unique_key   TEXT,                        -- see jobs_unique_key
    run_at_fixed INTEGER NOT NULL DEFAULT 0,  -- run_at is a wall-clock time (--run-at)
    rerun_of     TEXT,                        -- the ended job `rerun` made this one from
    held         INTEGER NOT NULL DEFAULT 0,  -- `hold`: counted in blocked_by too, so that
                                              -- the claim's indexes leave it out
    tags         TEXT,                        -- JSON array of strings, or NULL: none
    mutex        TEXT,                        -- `enqueue --mutex`: see mutexes_held
    success_exit TEXT,                        -- exit codes that complete it too: JSON array
    no_retry_exit TEXT,                       -- exit codes that go dead at once: JSON array
    deadline     REAL,                        -- seconds from the first attempt's start
    expires_at   INTEGER,                     -- never started after this (epoch ms)
    deadline_at  INTEGER,                     -- when the deadline passes (first start + it)
    snoozes      INTEGER NOT NULL DEFAULT 0,  -- `queuectl snooze`s so far
    hook         TEXT,                        -- a hook's job: JSON {name, event, job}
    snapshot     TEXT,                        -- `enqueue --snapshot`: JSON {id, commit,
                                              -- dirty, bytes, dir}; see snapshots
    gpus         INTEGER,                     -- `enqueue --gpus N`: see jobs_gpu_ready
    gpus_assigned TEXT                        -- the GPUs given: JSON array of indexes
);

-- The claim walks this index in order and stops at the first due row: cost does not
-- grow with the number of finished jobs, which the partial index leaves out.
-- A job waiting on dependencies (blocked_by > 0) is not in it: the claim never sees one.
CREATE INDEX jobs_ready ON jobs (priority DESC, run_at, seq)
    WHERE state IN ('pending', 'failed') AND blocked_by = 0;
CREATE INDEX jobs_ready_queue ON jobs (queue, priority DESC, run_at, seq)
    WHERE state IN ('pending', 'failed') AND blocked_by = 0;
-- When is the next scheduled or backed-off job due? Lets idle workers sleep exactly that long.
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('pending', 'failed') AND blocked_by = 0;
-- `status` counts the waiting jobs from here.
CREATE INDEX jobs_blocked ON jobs (seq) WHERE state = 'pending' AND blocked_by > 0;
-- `status` counts the held jobs from here; a claim never writes held, so never this index.
CREATE INDEX jobs_on_hold ON jobs (seq) WHERE held <> 0;
-- Lists by state, and the processing jobs (never more of them than workers) that say which
-- worker is busy and which jobs to recover. An index whose key changes as a job moves
-- costs page writes in each worker transaction, so there is no more than these.
CREATE INDEX jobs_state ON jobs (state, seq);
CREATE INDEX jobs_queue ON jobs (queue, seq);

-- One row per attempt, written when it ends (or early: when a running attempt saves its
-- output, or its job is cancelled); until then the job's row describes it.
CREATE TABLE attempts (
    job_id         TEXT    NOT NULL,
    number         INTEGER NOT NULL,
    worker         TEXT,
    run_at         INTEGER,                   -- when the job became due: queue wait
    started_at     INTEGER NOT NULL,
    finished_at    INTEGER,
    exit_code      INTEGER,
    outcome        TEXT,                      -- how it ended (models.Outcome)
    error          TEXT,
    output         BLOB,                      -- the tail of what it printed
    output_dropped INTEGER NOT NULL DEFAULT 0,  -- bytes cut from the front
    PRIMARY KEY (job_id, number)
);
CREATE INDEX attempts_finished ON attempts (finished_at);

-- Registered workers. Whether one is busy, and with what, is read from the jobs it holds;
-- state and current_job are written once, for workers of an earlier queuectl.
CREATE TABLE workers (
    id             TEXT    PRIMARY KEY,
    host           TEXT    NOT NULL,
    pid            INTEGER NOT NULL,
    queues         TEXT    NOT NULL,          -- JSON array; empty = every queue
    state          TEXT    NOT NULL,
    current_job    TEXT,
    started_at     INTEGER NOT NULL,
    heartbeat_at   INTEGER NOT NULL,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    pid_scope      TEXT    NOT NULL DEFAULT '',  -- BOOT_ID/PID_NAMESPACE its pid belongs to
    gpus           TEXT                          -- its pool's GPUs: JSON array, or NULL
);

-- Values set by `config set`; defaults are not stored.
CREATE TABLE config (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Jobs that wait for other jobs (`enqueue --after`): the edges, kept as given (a purged
-- dependency stays listed in `after`).
CREATE TABLE job_dependencies (
    job_id     TEXT    NOT NULL,
    depends_on TEXT    NOT NULL,
    position   INTEGER NOT NULL,              -- order as the user gave them
    -- what end releases the job: 'completed' (--after), 'any' (--after-any), 'failure'
    -- (--after-failure: dead or cancelled; a completion cancels the job, not needed)
    kind       TEXT    NOT NULL DEFAULT 'completed',
    PRIMARY KEY (job_id, depends_on)
);
-- A completing job finds its dependents; a purge asks whether a job is still needed.
CREATE INDEX job_dependencies_depends_on ON job_dependencies (depends_on);

-- A dependency completes: its waiting dependents count one fewer, in the transaction that
-- records the completion (whatever path completes it: each writes attempts, the count of
-- attempts finished), all of them in one statement. Not on every write of state: a claim
-- writes state, and a trigger's firing costs even when its WHEN is false (migrations/0008).
CREATE TRIGGER jobs_release_dependents AFTER UPDATE OF attempts ON jobs
    WHEN NEW.has_dependents AND NEW.state <> OLD.state
     AND NEW.state IN ('completed', 'dead', 'cancelled')
BEGIN
    -- Released: by a completion, the --after and --after-any edges; by a death or a
    -- cancel, the --after-any and --after-failure ones.
    UPDATE jobs SET blocked_by = blocked_by - 1, updated_at = NEW.updated_at
    WHERE id IN (SELECT job_id FROM job_dependencies
                 WHERE depends_on = NEW.id
                   AND CASE NEW.state WHEN 'completed' THEN kind <> 'failure'
                                      ELSE kind <> 'completed' END)
      AND state = 'pending' AND blocked_by > 0;
    -- Cancelled: by a completion, the --after-failure jobs (not needed); by a cancel, the
    -- --after ones.
    UPDATE jobs SET state = 'cancelled', finished_at = NEW.updated_at,
        updated_at = NEW.updated_at, held = 0, attempts = attempts,
        last_error = CASE NEW.state
                         WHEN 'completed' THEN 'not needed: ''' || NEW.id || ''' completed'
                         ELSE 'dependency ''' || NEW.id || ''' cancelled' END
    WHERE NEW.state IN ('completed', 'cancelled')
      AND id IN (SELECT job_id FROM job_dependencies
                 WHERE depends_on = NEW.id
                   AND kind = CASE NEW.state WHEN 'completed' THEN 'failure'
                                             ELSE 'completed' END)
      AND state = 'pending' AND blocked_by > 0;
END;

-- Recurring jobs (cron): the schedules, and the ticks they skipped.
-- A schedule's jobs, newest first: its last job (cron list, the overlap check) in one step.
CREATE INDEX jobs_cron ON jobs (cron, seq) WHERE cron IS NOT NULL;


CREATE TABLE cron_schedules (
    name        TEXT    PRIMARY KEY,
    schedule    TEXT    NOT NULL,             -- as the user wrote it
    tz          TEXT    NOT NULL,             -- IANA zone name
    command     TEXT    NOT NULL,
    max_retries INTEGER,                      -- NULL: the config's when a tick fires
    priority    INTEGER NOT NULL DEFAULT 0,
    timeout     REAL,                         -- NULL: the config's job-timeout
    queue       TEXT    NOT NULL DEFAULT 'default',
    cwd         TEXT    NOT NULL,
    env         TEXT,                         -- JSON object, or NULL
    overlap     TEXT    NOT NULL,             -- skip | allow
    catch_up    TEXT    NOT NULL,             -- latest | none
    paused      INTEGER NOT NULL DEFAULT 0,
    next_run_at INTEGER,                      -- the next tick; NULL: it never ticks again
    skipped     INTEGER NOT NULL DEFAULT 0,   -- ticks skipped (overlap), ever
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    jitter_ms   INTEGER,                      -- a tick's job is due up to this after it
    alert_after_ms INTEGER,                   -- overdue past this without a success
    overdue_since  INTEGER,                   -- the overdue episode under way began (NULL: none)
    suspects    INTEGER NOT NULL DEFAULT 0,   -- suspect successes flagged, ever
    judged_seq  INTEGER NOT NULL DEFAULT 0,   -- the latest completed job judged (jobs.seq)
    policies    TEXT                         -- its jobs' policies: JSON object, or NULL
);
-- The earliest tick to come: what an idle worker sleeps until.
CREATE INDEX cron_due ON cron_schedules (next_run_at) WHERE paused = 0;

-- Suspect successes flagged (the latest kept per schedule), each job once.
CREATE TABLE cron_suspects (
    job_id     TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    flagged_at INTEGER NOT NULL
);
CREATE INDEX cron_suspects_name ON cron_suspects (name, flagged_at);

CREATE TABLE cron_skipped (
    name       TEXT    NOT NULL,
    tick       INTEGER NOT NULL,
    blocked_by TEXT,                          -- the schedule's unfinished job at the time
    PRIMARY KEY (name, tick)
);

-- Queue settings an operator changes while pools run: pause, concurrency limit; unique jobs.
-- A row exists only while its queue is paused or limited (a resume or `limit none` that
-- leaves it neither deletes it), so the claim pays for this table only when it is not empty.
CREATE TABLE queues (
    name              TEXT    PRIMARY KEY,
    paused            INTEGER NOT NULL DEFAULT 0,
    concurrency_limit INTEGER,                  -- NULL: no limit
    updated_at        INTEGER NOT NULL,
    rate_count        INTEGER,                  -- `queue rate`: N; NULL: no rate
    rate_ms           INTEGER,                  -- DUR in ms
    -- `queue window`: as given (NULL: none), its zone, and the stretch (ms) it is open now
    -- or opens next; after window_closes the queue stays closed until a worker's
    -- housekeeping works out the next stretch
    window_spec       TEXT,
    window_tz         TEXT,
    window_opens      INTEGER,
    window_closes     INTEGER
);

-- The queues no claim may take from right now: paused, or running as many jobs as their
-- limit. Read inside the claim's write transaction (BEGIN IMMEDIATE serializes claims), so
-- the count is exact: a limit is never exceeded. The processing jobs are found through
-- jobs_state (never more of them than workers), not through every job of the queue.
CREATE VIEW queues_blocked AS
SELECT name FROM queues
WHERE paused <> 0
   OR (concurrency_limit IS NOT NULL
       AND concurrency_limit <= (SELECT count(*) FROM jobs INDEXED BY jobs_state
                                 WHERE state = 'processing' AND queue = queues.name)
                              -- cancelled while running, its process not ended yet (the
                              -- worker grants a grace before SIGKILL): its attempt's row,
                              -- opened by the cancel, is still open
                              + (SELECT count(*) FROM attempts a JOIN jobs j ON j.id = a.job_id
                                 WHERE a.finished_at IS NULL AND j.state = 'cancelled'
                                   AND j.queue = queues.name));
-- The open attempts (a cancel while running, saved output): few, and none for the attempt
-- rows written when they end, which is nearly all of them.
CREATE INDEX attempts_open ON attempts (job_id) WHERE finished_at IS NULL;

-- At most one job per unique key among the jobs that may still run. Jobs without a key
-- are not in the index, so it costs them nothing.
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing');

-- `enqueue --mutex NAME`: at most one job holding NAME runs at once, on any host.
-- The running jobs that hold a mutex: never more of them than workers.
CREATE INDEX jobs_mutex_running ON jobs (mutex) WHERE mutex IS NOT NULL AND state = 'processing';

-- The mutexes held now: by a running job, or by one cancelled while it ran whose process has
-- not ended yet (its attempt's row, opened by the cancel, is still open: the worker grants a
-- grace before SIGKILL). Read inside the claim's write transaction (BEGIN IMMEDIATE
-- serializes claims), so no two jobs holding one mutex ever run at once. A lost worker's job
-- frees its mutex when it is recovered: its attempt ends then.
CREATE VIEW mutexes_held AS
SELECT mutex FROM jobs INDEXED BY jobs_mutex_running
WHERE mutex IS NOT NULL AND state = 'processing'
UNION ALL
SELECT j.mutex FROM attempts a JOIN jobs j ON j.id = a.job_id
WHERE a.finished_at IS NULL AND j.state = 'cancelled' AND j.mutex IS NOT NULL;

-- `queue rate Q N/DUR`: at most N jobs of Q start in any window of DUR, on any host.
-- The starts of each rated queue's jobs within its window (older ones are deleted as new
-- ones come): a claim of a rated queue counts them inside its write lock, so the rate is
-- never exceeded. Queues without a rate write nothing here.
CREATE TABLE queue_starts (
    queue      TEXT    NOT NULL,
    started_at INTEGER NOT NULL
);
CREATE INDEX queue_starts_queue ON queue_starts (queue, started_at);

-- Every claim sets runs (and nothing else does): a start of a job of a rated queue is
-- recorded, and its queue's starts that fell out of the window are forgotten.
CREATE TRIGGER jobs_rate_start AFTER UPDATE OF runs ON jobs
WHEN new.state = 'processing'
 AND EXISTS (SELECT 1 FROM queues WHERE name = new.queue AND rate_count IS NOT NULL)
BEGIN
    DELETE FROM queue_starts
    WHERE queue = new.queue
      AND started_at <= new.started_at - (SELECT rate_ms FROM queues WHERE name = new.queue);
    INSERT INTO queue_starts (queue, started_at) VALUES (new.queue, new.started_at);
END;

-- The last reading of the store's clock beside a host's boot-time clock (CLOCK_BOOTTIME,
-- which never steps and counts a suspend), one per boot: two readings of one boot that
-- moved apart by more than the drift allows show a step of the store's clock.
CREATE TABLE clock_readings (
    boot_id  TEXT    PRIMARY KEY,             -- the kernel's id of the boot (hostinfo.boot_id)
    store_ms INTEGER NOT NULL,                -- the store's clock, epoch ms
    boot_ms  INTEGER NOT NULL                 -- CLOCK_BOOTTIME of that boot, ms
);

-- Housekeeping finds the waiting jobs whose expiry has come; jobs without one are not in it.
CREATE INDEX jobs_expiring ON jobs (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('pending', 'failed');

-- Hooks (`hook add`): a job enqueued when a job meets one of the hook's events.
CREATE TABLE hooks (
    name       TEXT    PRIMARY KEY,
    events     TEXT    NOT NULL,              -- JSON array: completed, failed, dead, ...
    command    TEXT    NOT NULL,
    queue      TEXT,                          -- only jobs of this queue (NULL: any)
    cron       TEXT,                          -- only jobs of this schedule (NULL: any)
    cwd        TEXT    NOT NULL,              -- where its jobs run
    created_at INTEGER NOT NULL
);

-- `enqueue --snapshot`: code frozen at enqueue. A snapshot is a git tree, kept once under
-- its tree id; its files name their contents by git blob id, and a blob is kept once
-- whatever trees share it. A job's snapshot column is JSON {id, commit, dirty, bytes,
-- dir}; jobs_snapshot finds the jobs using a tree when purge and retention forget it.
CREATE INDEX jobs_snapshot ON jobs (json_extract(snapshot, '$.id'))
    WHERE snapshot IS NOT NULL;
CREATE TABLE snapshots (
    id         TEXT    PRIMARY KEY,           -- git tree id
    files      INTEGER NOT NULL,              -- rows in snapshot_files when stored whole
    bytes      INTEGER NOT NULL,              -- the files' total size
    created_at INTEGER NOT NULL
);
CREATE TABLE snapshot_files (
    snapshot TEXT    NOT NULL,                -- snapshots.id
    path     BLOB    NOT NULL,                -- from the tree's root, as git names it
    mode     INTEGER NOT NULL,                -- 0o100644, 0o100755 or 0o120000 (a symlink)
    blob     TEXT    NOT NULL,                -- snapshot_blobs.id
    PRIMARY KEY (snapshot, path)
) WITHOUT ROWID;
CREATE INDEX snapshot_files_blob ON snapshot_files (blob);
CREATE TABLE snapshot_blobs (
    id   TEXT PRIMARY KEY,                    -- git blob id
    data BLOB NOT NULL
);

-- GPUs: `worker start --gpus LIST` (the pool owns these GPUs of its host) and
-- `enqueue --gpus N` (the job runs only in a pool with N of its GPUs free).
-- A job that asks for GPUs counts one more in blocked_by (as a held one does): the
-- ordinary claim's indexes leave it out, so pools without GPUs never see it and their
-- claim costs what it did; a pool with GPUs looks for it in jobs_gpu_ready.
-- jobs.gpus: GPUs asked for (NULL: none); jobs.gpus_assigned: JSON array of the GPU
-- indexes given; workers.gpus: JSON array of its pool's GPUs (NULL: none).

-- The GPU jobs ready but for a GPU (blocked_by counts only their GPU), in claim order.
CREATE INDEX jobs_gpu_ready ON jobs (priority DESC, run_at, seq)
    WHERE gpus IS NOT NULL AND state IN ('pending', 'failed') AND blocked_by = 1;

-- Each host's GPUs that some pool owns (rows made as its workers register), and the
-- attempt last given each one. A GPU is busy while that attempt runs (gpus_busy), so every
-- end of an attempt (a finish, a recovery, a cancel whose process has ended, a snooze, the
-- job deleted) frees it with no write of its own. The claim of a GPU job reads the free GPUs
-- of its pool and marks those it gives in its own transaction (under the write lock).
CREATE TABLE gpus (
    host    TEXT    NOT NULL,                 -- the worker's host id (workers.host)
    gpu     INTEGER NOT NULL,                 -- its index, as nvidia-smi numbers it
    job_id  TEXT,                             -- the job last given it
    attempt INTEGER,                          -- that job's attempt (jobs.runs)
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
