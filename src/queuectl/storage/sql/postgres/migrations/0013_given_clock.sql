-- A clock given to the store (PostgresStorage's ``clock``: tests move time on instead of
-- sleeping it out) is the session's setting queuectl.now_ms, set by that client before each
-- call. No production connection sets it: current_setting then answers NULL (or '' once a
-- setting of that name was seen), and "now" is the transaction's start, as before.
CREATE OR REPLACE FUNCTION queuectl_now_ms() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    -- now() is the transaction's start: one transaction sees one "now" throughout.
    AS $$ SELECT coalesce(nullif(current_setting('queuectl.now_ms', true), '')::bigint,
                          (extract(epoch FROM now()) * 1000)::bigint) $$;

-- The clock as a statement reads it (the start of a claimed attempt, a clock reading): the
-- given clock as well, when there is one.
CREATE OR REPLACE FUNCTION queuectl_clock_ms() RETURNS bigint
    LANGUAGE sql VOLATILE
    AS $$ SELECT coalesce(nullif(current_setting('queuectl.now_ms', true), '')::bigint,
                          (extract(epoch FROM clock_timestamp()) * 1000)::bigint) $$;
