-- A clock that steps (NTP at boot, `date -s`, a resumed VM: here the database server's)
-- must not make live workers look silent nor keep due jobs waiting: see
-- storage/clock_steps.py.

-- A job's run_at as the user gave it with --run-at: a time on the wall clock, which a step
-- of the clock leaves where it is. Every other run_at (due now, --delay, a retry's backoff)
-- is a time from when it was set, which moves with a step.
ALTER TABLE jobs ADD COLUMN run_at_fixed boolean NOT NULL DEFAULT false;

-- The last reading of the server's clock beside a host's boot-time clock (CLOCK_BOOTTIME,
-- which never steps and counts a suspend), one per boot of each host that runs workers:
-- two readings of one boot that moved apart by more than the drift allows show a step of
-- the server's clock (boot-time readings of different hosts are never compared).
CREATE TABLE clock_readings (
    boot_id  text   PRIMARY KEY,              -- the kernel's id of the boot (hostinfo.boot_id)
    store_ms bigint NOT NULL,                 -- the server's clock, epoch ms
    boot_ms  bigint NOT NULL                  -- CLOCK_BOOTTIME of that boot, ms
);
