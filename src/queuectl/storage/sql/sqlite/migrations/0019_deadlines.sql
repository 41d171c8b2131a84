-- `--deadline` (seconds from the first attempt's start, over all attempts) and when it
-- passes (set as the first attempt starts); `--expires` (epoch ms: never started after).
ALTER TABLE jobs ADD COLUMN deadline REAL;
ALTER TABLE jobs ADD COLUMN expires_at INTEGER;
ALTER TABLE jobs ADD COLUMN deadline_at INTEGER;
-- Housekeeping finds the waiting jobs whose expiry has come; jobs without one are not in it.
CREATE INDEX jobs_expiring ON jobs (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('pending', 'failed');
