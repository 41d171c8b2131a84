-- Counts per state without reading the jobs table: `status` (and anything polling it) read
-- a few rows instead of scanning every job (in parallel workers that took the CPU from the
-- queue's own workers).
--
-- Every state but 'pending'. Pending jobs are counted from the jobs_state index (the backlog,
-- read index-only), so that enqueue, which only ever inserts pending jobs, calls no trigger
-- function: a fresh CLI connection compiling one delayed the commit that makes its jobs
-- visible to workers (the pickup figure).
--
-- Triggers append signed deltas: (state, +n) / (state, -n). Appending takes no row lock, so
-- many workers finishing jobs at once never queue behind one "completed" counter row (an
-- UPDATE of shared counter rows would, and could deadlock against a multi-job cancel).
-- The sum per state is the count. queuectl_fold_counts() replaces the rows by their sums;
-- workers call it in their periodic housekeeping and `status` before it reads, so the table
-- stays a few rows plus the deltas of the last seconds.
CREATE TABLE job_counts (
    state text   NOT NULL,
    n     bigint NOT NULL
);

-- queuectl inserts only pending jobs; rows inserted otherwise (an import, a seed) in other
-- states are counted one by one (the WHEN clause is checked without calling the function).
CREATE FUNCTION queuectl_count_inserted() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (state, n) VALUES (NEW.state, 1);
    RETURN NULL;
END $$;

-- Deletes come in batches (purge): one delta row per state per statement, from the
-- statement's transition table.
CREATE FUNCTION queuectl_count_deleted() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (state, n)
    SELECT state, -count(*) FROM old_rows WHERE state <> 'pending' GROUP BY state;
    RETURN NULL;
END $$;

-- Updates come one job at a time (claim, finish, cancel, retry): a row trigger, and only
-- when the state changes.
CREATE FUNCTION queuectl_count_moved() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (state, n)
    SELECT state, n FROM (VALUES (OLD.state, -1), (NEW.state, 1)) AS d (state, n)
    WHERE state <> 'pending';
    RETURN NULL;
END $$;

CREATE FUNCTION queuectl_count_truncated() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM job_counts;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs
    FOR EACH ROW WHEN (NEW.state <> 'pending')
    EXECUTE FUNCTION queuectl_count_inserted();
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION queuectl_count_deleted();
CREATE TRIGGER jobs_count_update AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION queuectl_count_moved();
CREATE TRIGGER jobs_count_truncate AFTER TRUNCATE ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION queuectl_count_truncated();

-- Sums replace the deltas they fold, once there are more than p_min_rows rows (below that,
-- reading them costs less than writing: nothing is written, so no commit waits on the
-- disk); returns how many rows it folded. Rows appended meanwhile by transactions this one
-- does not see are left for the next fold; two folds at once delete disjoint rows (the
-- second skips rows the first deleted), so every delta is counted exactly once.
CREATE FUNCTION queuectl_fold_counts(p_min_rows bigint) RETURNS bigint
    LANGUAGE sql AS $$
    WITH many AS (SELECT count(*) > p_min_rows AS yes
                  FROM (SELECT 1 FROM job_counts LIMIT p_min_rows + 1) AS some_rows),
         gone AS (DELETE FROM job_counts WHERE (SELECT yes FROM many) RETURNING state, n),
         kept AS (INSERT INTO job_counts (state, n)
                  SELECT state, sum(n) FROM gone GROUP BY state HAVING sum(n) <> 0)
    SELECT count(*) FROM gone;
$$;

-- The jobs already there (CREATE TRIGGER above holds off concurrent writers until commit).
INSERT INTO job_counts (state, n)
SELECT state, count(*) FROM jobs WHERE state <> 'pending' GROUP BY state;
