-- `cron add --alert-after`: the schedule is overdue while its latest success's tick is more
-- than this many ms ago (NULL: never). overdue_since: when a pool found it overdue, the
-- episode's start (NULL: none under way); one pool sets it, once per episode.
ALTER TABLE cron_schedules ADD COLUMN alert_after_ms bigint;
ALTER TABLE cron_schedules ADD COLUMN overdue_since bigint;
