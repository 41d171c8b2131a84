-- `enqueue --mutex NAME`: at most one job holding NAME runs at once, on any host.
ALTER TABLE jobs ADD COLUMN mutex TEXT;

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
