-- The first schema. Times are integer milliseconds since the epoch (UTC).
CREATE TABLE jobs (
    seq         INTEGER PRIMARY KEY,          -- insertion order: breaks priority/run_at ties
    id          TEXT    NOT NULL UNIQUE,
    command     TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,   -- attempts finished (reset by dlq retry)
    runs        INTEGER NOT NULL DEFAULT 0,   -- attempts ever started: numbers the log
    max_retries INTEGER NOT NULL,
    priority    INTEGER NOT NULL DEFAULT 0,
    timeout     REAL,
    queue       TEXT    NOT NULL DEFAULT 'default',
    cwd         TEXT    NOT NULL,
    env         TEXT,                         -- JSON object, or NULL
    run_at      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    exit_code   INTEGER,
    last_error  TEXT,
    worker      TEXT
);

-- The claim walks this index in order and stops at the first due row: cost does not
-- grow with the number of finished jobs, which the partial index leaves out.
CREATE INDEX jobs_ready ON jobs (priority DESC, run_at, seq)
    WHERE state IN ('pending', 'failed');
CREATE INDEX jobs_ready_queue ON jobs (queue, priority DESC, run_at, seq)
    WHERE state IN ('pending', 'failed');
-- When is the next scheduled or backed-off job due? Lets idle workers sleep exactly that long.
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('pending', 'failed');
CREATE INDEX jobs_state ON jobs (state, seq);
CREATE INDEX jobs_queue ON jobs (queue, seq);
CREATE INDEX jobs_held ON jobs (worker) WHERE state = 'processing';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('completed', 'dead', 'cancelled');

CREATE TABLE attempts (
    job_id         TEXT    NOT NULL,
    number         INTEGER NOT NULL,
    worker         TEXT,
    run_at         INTEGER,                   -- when the job became due: queue wait
    started_at     INTEGER NOT NULL,
    finished_at    INTEGER,
    exit_code      INTEGER,
    outcome        TEXT,
    error          TEXT,
    output         BLOB,
    output_dropped INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, number)
);
CREATE INDEX attempts_finished ON attempts (finished_at);

CREATE TABLE workers (
    id             TEXT    PRIMARY KEY,
    host           TEXT    NOT NULL,
    pid            INTEGER NOT NULL,
    queues         TEXT    NOT NULL,          -- JSON array; empty = every queue
    state          TEXT    NOT NULL,          -- idle | busy | stopping
    current_job    TEXT,
    started_at     INTEGER NOT NULL,
    heartbeat_at   INTEGER NOT NULL,
    stop_requested INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE config (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
