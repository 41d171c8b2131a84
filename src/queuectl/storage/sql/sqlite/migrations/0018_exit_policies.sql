-- `--success-exit` / `--no-retry-exit`: exit codes that also complete a job, and those
-- that send it to the DLQ at once; each a JSON array of integers and "lo-hi" strings, as
-- given (NULL: none).
ALTER TABLE jobs ADD COLUMN success_exit TEXT;
ALTER TABLE jobs ADD COLUMN no_retry_exit TEXT;
-- `cron add` with policy flags: its jobs' success_exit, no_retry_exit and deadline, as one
-- JSON object (NULL: none).
ALTER TABLE cron_schedules ADD COLUMN policies TEXT;
