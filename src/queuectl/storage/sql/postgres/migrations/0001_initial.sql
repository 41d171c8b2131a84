-- The first schema. Times are bigint milliseconds since the epoch (UTC), as in the SQLite
-- store, and "now" is always the DATABASE's clock (queuectl_now_ms), never a client's:
-- workers on hosts whose clocks disagree still agree on what is due and who is lost.
CREATE FUNCTION queuectl_now_ms() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    -- now() is the transaction's start: one transaction sees one "now" throughout.
    AS $$ SELECT (extract(epoch FROM now()) * 1000)::bigint $$;

CREATE TABLE jobs (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- insertion order
    id          text    NOT NULL UNIQUE,
    command     text    NOT NULL,
    state       text    NOT NULL,
    attempts    bigint  NOT NULL DEFAULT 0,   -- attempts finished (reset by dlq retry)
    runs        integer NOT NULL DEFAULT 0,   -- attempts ever started: numbers the log
    max_retries bigint  NOT NULL,   -- 64-bit like SQLite integers
    priority    bigint  NOT NULL DEFAULT 0,
    timeout     double precision,
    queue       text    NOT NULL DEFAULT 'default',
    cwd         text    NOT NULL,
    env         text,                         -- JSON object, or NULL
    run_at      bigint  NOT NULL,
    created_at  bigint  NOT NULL,
    updated_at  bigint  NOT NULL,
    started_at  bigint,
    finished_at bigint,
    exit_code   integer,
    last_error  text,
    worker      text
);

-- The claim walks this index in order and stops at the first due row that no other
-- claimer holds: its cost does not grow with finished jobs, which the index leaves out.
CREATE INDEX jobs_ready ON jobs (priority DESC, run_at, seq)
    WHERE state IN ('pending', 'failed');
CREATE INDEX jobs_ready_queue ON jobs (queue, priority DESC, run_at, seq)
    WHERE state IN ('pending', 'failed');
-- When is the next scheduled or backed-off job due? Lets idle workers sleep that long.
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('pending', 'failed');
CREATE INDEX jobs_state ON jobs (state, seq);
CREATE INDEX jobs_queue ON jobs (queue, seq);
CREATE INDEX jobs_held ON jobs (worker) WHERE state = 'processing';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('completed', 'dead', 'cancelled');

CREATE TABLE attempts (
    job_id         text    NOT NULL,
    number         integer NOT NULL,
    worker         text,
    run_at         bigint,                    -- when the job became due: queue wait
    started_at     bigint  NOT NULL,
    finished_at    bigint,
    exit_code      integer,
    outcome        text,
    error          text,
    output         bytea,
    output_dropped bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, number)
);
CREATE INDEX attempts_finished ON attempts (finished_at);
CREATE INDEX attempts_open ON attempts (worker) WHERE finished_at IS NULL;

CREATE TABLE workers (
    id             text    PRIMARY KEY,
    host           text    NOT NULL,
    pid            integer NOT NULL,
    queues         text    NOT NULL,          -- JSON array; empty = every queue
    state          text    NOT NULL,          -- idle | busy | stopping
    current_job    text,
    started_at     bigint  NOT NULL,
    heartbeat_at   bigint  NOT NULL,
    stop_requested boolean NOT NULL DEFAULT false
);

CREATE TABLE config (
    key   text PRIMARY KEY,
    value text NOT NULL
);
