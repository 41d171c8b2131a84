-- `queuectl snooze`: how many times a job sent itself back to wait without spending a retry.
ALTER TABLE jobs ADD COLUMN snoozes INTEGER NOT NULL DEFAULT 0;
