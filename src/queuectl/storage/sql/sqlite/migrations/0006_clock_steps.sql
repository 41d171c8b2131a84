-- A wall clock that steps (NTP at boot, `date -s`, a resumed VM) must not make live workers
-- look silent nor keep due jobs waiting: see storage/clock_steps.py.

-- A job's run_at as the user gave it with --run-at: a time on the wall clock, which a step
-- of the clock leaves where it is. Every other run_at (due now, --delay, a retry's backoff)
-- is a time from when it was set, which moves with a step.
ALTER TABLE jobs ADD COLUMN run_at_fixed INTEGER NOT NULL DEFAULT 0;

-- The last reading of the store's clock beside a host's boot-time clock (CLOCK_BOOTTIME,
-- which never steps and counts a suspend), one per boot: two readings of one boot that
-- moved apart by more than the drift allows show a step of the store's clock.
CREATE TABLE clock_readings (
    boot_id  TEXT    PRIMARY KEY,             -- the kernel's id of the boot (hostinfo.boot_id)
    store_ms INTEGER NOT NULL,                -- the store's clock, epoch ms
    boot_ms  INTEGER NOT NULL                 -- CLOCK_BOOTTIME of that boot, ms
);
