-- Queue settings an operator changes while pools run: pause, concurrency limit; unique jobs.

-- A row exists only while its queue is paused or limited (a resume or `limit none` that
-- leaves it neither deletes it), so the claim pays for this table only when it is not empty.
CREATE TABLE queues (
    name              TEXT    PRIMARY KEY,
    paused            INTEGER NOT NULL DEFAULT 0,
    concurrency_limit INTEGER,                  -- NULL: no limit
    updated_at        INTEGER NOT NULL
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
ALTER TABLE jobs ADD COLUMN unique_key TEXT;
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing');
