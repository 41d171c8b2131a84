-- `hold` keeps a waiting job from being claimed until `release`. A held job counts one more
-- in blocked_by, which keeps it out of the claim's partial indexes (jobs_ready,
-- jobs_ready_queue, jobs_due) as a job waiting on a dependency is: the claim is unchanged.
ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
-- `status` counts the held jobs from here; a claim never writes held, so never this index.
CREATE INDEX jobs_on_hold ON jobs (seq) WHERE held <> 0;
