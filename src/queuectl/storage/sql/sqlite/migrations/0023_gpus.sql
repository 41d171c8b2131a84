-- GPUs: `worker start --gpus LIST` (the pool owns these GPUs of its host) and
-- `enqueue --gpus N` (the job runs only in a pool with N of its GPUs free).
-- A job that asks for GPUs counts one more in blocked_by (as a held one does): the
-- ordinary claim's indexes leave it out, so pools without GPUs never see it and their
-- claim costs what it did; a pool with GPUs looks for it in jobs_gpu_ready.
ALTER TABLE jobs ADD COLUMN gpus INTEGER;          -- GPUs asked for; NULL: none
ALTER TABLE jobs ADD COLUMN gpus_assigned TEXT;    -- JSON array of the GPU indexes given
ALTER TABLE workers ADD COLUMN gpus TEXT;          -- JSON array: its pool's GPUs; NULL: none

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
