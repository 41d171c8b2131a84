-- Fewer index writes per state change. Every index whose key or partial WHERE changes
-- when a job moves (pending -> processing -> completed) costs page writes in each
-- worker transaction, in the WAL and again at checkpoint. These did not pay for that:

-- Recovery looks for processing jobs: jobs_state (state, seq) finds them as well, and
-- there are never more of them than workers.
DROP INDEX jobs_held;

-- Purge (rare, and deletes what it reads) and the dead count of metrics filter the rows
-- of one final state, which jobs_state finds.
DROP INDEX jobs_finished;
