-- `cron add --jitter`: each tick's job is due up to this many ms after the tick (NULL: none).
ALTER TABLE cron_schedules ADD COLUMN jitter_ms bigint;
