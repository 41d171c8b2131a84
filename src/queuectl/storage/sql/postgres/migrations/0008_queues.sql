-- Queue settings an operator changes while pools run: pause, concurrency limit; unique jobs.

-- A row exists only while its queue is paused or limited (a resume or `limit none` that
-- leaves it neither deletes it): a claim takes the queue-settings path below only then.
CREATE TABLE queues (
    name              text    PRIMARY KEY,
    paused            boolean NOT NULL DEFAULT false,
    concurrency_limit bigint,                   -- NULL: no limit
    updated_at        bigint  NOT NULL
);

-- How many jobs of queue p_queue run now: those processing, and those cancelled while
-- running whose process has not ended yet (its attempt's row, opened by the cancel, is still
-- open: the worker grants a grace before SIGKILL), so a cancel never lets a limit be passed.
CREATE FUNCTION queuectl_queue_running(p_queue text) RETURNS bigint
    LANGUAGE sql STABLE
    AS $$ SELECT (SELECT count(*) FROM jobs WHERE state = 'processing' AND queue = p_queue)
               + (SELECT count(*) FROM attempts a JOIN jobs j ON j.id = a.job_id
                  WHERE a.finished_at IS NULL AND j.state = 'cancelled' AND j.queue = p_queue) $$;

-- The queues no claim may take from right now, as a first look without locks: paused, or
-- running as many jobs as their limit.
CREATE VIEW queues_blocked AS
SELECT name FROM queues
WHERE paused
   OR (concurrency_limit IS NOT NULL AND concurrency_limit <= queuectl_queue_running(name));

-- At most one job per unique key among the jobs that may still run. Jobs without a key
-- are not in the index, so it costs them nothing.
ALTER TABLE jobs ADD COLUMN unique_key text;
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing');

-- The clock as a statement inside a function reads it, for the start of a claimed attempt.
-- queuectl_now_ms() is the transaction's start, and a claim's UPDATE runs with a snapshot
-- taken later (a new one per statement of a plpgsql function in READ COMMITTED): it may
-- claim a job that a dependency's end released after the claim's transaction began, so a
-- start stamped at the transaction's start could precede the end that allowed it.
CREATE FUNCTION queuectl_clock_ms() RETURNS bigint
    LANGUAGE sql VOLATILE
    AS $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

-- The claim while some queue is paused or limited. A limit of N is never exceeded: the
-- claim of a job in a queue that has a row locks that row (FOR UPDATE) and counts the
-- queue's processing jobs after the lock is granted (each statement of a plpgsql function
-- takes a new snapshot in READ COMMITTED, so it sees every claim committed before it), so
-- claims of one paused or limited queue are serialized while other queues' claims never wait. A
-- claim locks at most one queue row: after one that turned out full or paused it passes
-- over every paused or limited queue, so two claimers never wait on each other's queue rows.
CREATE FUNCTION queuectl_claim_steered(p_worker text, p_queues text[]) RETURNS SETOF jobs
    LANGUAGE plpgsql AS $$
DECLARE
    job jobs;
    skip text[];
    pick record;
    q queues;
    locked boolean := false;
BEGIN
    SELECT coalesce(array_agg(name), '{}') INTO skip FROM queues_blocked;
    LOOP
        SELECT seq, queue INTO pick FROM jobs
        WHERE state IN ('pending', 'failed') AND blocked_by = 0
          AND run_at <= queuectl_now_ms()
          AND (cardinality(p_queues) = 0 OR queue = ANY(p_queues))
          AND queue <> ALL(skip)
        ORDER BY priority DESC, run_at, seq LIMIT 1
        FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        PERFORM 1 FROM queues WHERE name = pick.queue;
        IF FOUND THEN
            IF locked THEN
                skip := skip || ARRAY(SELECT name FROM queues);
                CONTINUE;
            END IF;
            locked := true;
            SELECT * INTO q FROM queues WHERE name = pick.queue FOR UPDATE;
            IF FOUND AND (q.paused OR (q.concurrency_limit IS NOT NULL
                    AND q.concurrency_limit <= queuectl_queue_running(pick.queue))) THEN
                skip := skip || pick.queue;
                CONTINUE;
            END IF;
        END IF;
        UPDATE jobs
        SET state = 'processing', worker = p_worker, runs = runs + 1,
            started_at = queuectl_clock_ms(),
            finished_at = NULL, exit_code = NULL, updated_at = queuectl_now_ms()
        WHERE seq = pick.seq
        RETURNING * INTO job;
        RETURN NEXT job;
        RETURN;
    END LOOP;
END $$;

-- migrations/0006's claim (ready jobs only) with one step added (marked "queues"): while
-- any queue is paused or limited, queuectl_claim_steered above decides. With the queues table
-- empty (no queue paused or limited) the claim is today's, plus one look at an empty table.
CREATE OR REPLACE FUNCTION queuectl_claim(p_worker text, p_queues text[]) RETURNS SETOF jobs
    LANGUAGE plpgsql AS $$
DECLARE
    job jobs;
BEGIN
    PERFORM 1 FROM workers WHERE id = p_worker;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- queues: some queue is paused or limited.
    PERFORM 1 FROM queues LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT * FROM queuectl_claim_steered(p_worker, coalesce(p_queues, '{}'));
        RETURN;
    END IF;
    IF p_queues IS NULL OR cardinality(p_queues) = 0 THEN
        UPDATE jobs
        SET state = 'processing', worker = p_worker, runs = runs + 1,
            started_at = queuectl_clock_ms(), finished_at = NULL, exit_code = NULL,
            updated_at = queuectl_now_ms()
        WHERE seq = (SELECT seq FROM jobs
                     WHERE state IN ('pending', 'failed') AND blocked_by = 0
                       AND run_at <= queuectl_now_ms()
                     ORDER BY priority DESC, run_at, seq LIMIT 1
                     FOR UPDATE SKIP LOCKED)
        RETURNING * INTO job;
    ELSE
        UPDATE jobs
        SET state = 'processing', worker = p_worker, runs = runs + 1,
            started_at = queuectl_clock_ms(), finished_at = NULL, exit_code = NULL,
            updated_at = queuectl_now_ms()
        WHERE seq = (SELECT seq FROM jobs
                     WHERE state IN ('pending', 'failed') AND blocked_by = 0
                       AND run_at <= queuectl_now_ms() AND queue = ANY(p_queues)
                     ORDER BY priority DESC, run_at, seq LIMIT 1
                     FOR UPDATE SKIP LOCKED)
        RETURNING * INTO job;
    END IF;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN NEXT job;
END $$;
