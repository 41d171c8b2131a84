-- One name per idea: the number of a job's latest attempt is last_attempt, as in the code
-- (Job.last_attempt) and in QUEUECTL_ATTEMPT's meaning. RENAME COLUMN (SQLite 3.25+; the
-- store needs 3.35+ for RETURNING) rewrites every index and query stored in the schema
-- that names the column; none does.
ALTER TABLE jobs RENAME COLUMN runs TO last_attempt;
