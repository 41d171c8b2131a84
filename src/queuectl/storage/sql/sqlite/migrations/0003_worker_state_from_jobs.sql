-- Whether a worker is busy, and with which job, is read from the jobs it holds (the
-- processing jobs naming it) instead of being kept in its row. The row was written at every
-- job boundary (~25 µs of a worker's CPU per `true` job, measured in a running worker, and
-- one more page in each commit) and could disagree with the jobs table; now it changes only
-- with a heartbeat. Reads find a worker's job through jobs_state (state, seq): there are
-- never more processing jobs than workers.
ALTER TABLE workers DROP COLUMN state;
ALTER TABLE workers DROP COLUMN current_job;
