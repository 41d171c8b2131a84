-- Suspect successes: a completed run of a schedule far shorter or quieter than its own
-- history. judged_seq: the latest completed job (seq) a pool has judged, moved on by
-- compare-and-set so each job is judged once; suspects: how many were flagged, ever;
-- cron_suspects: the flagged jobs (the latest kept per schedule), each flagged once.
ALTER TABLE cron_schedules ADD COLUMN suspects INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cron_schedules ADD COLUMN judged_seq INTEGER NOT NULL DEFAULT 0;
CREATE TABLE cron_suspects (
    job_id     TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    flagged_at INTEGER NOT NULL
);
CREATE INDEX cron_suspects_name ON cron_suspects (name, flagged_at);
-- The runs that completed before this version are history, not news.
UPDATE cron_schedules SET judged_seq = coalesce(
    (SELECT max(seq) FROM jobs WHERE cron = cron_schedules.name AND state = 'completed'), 0);
