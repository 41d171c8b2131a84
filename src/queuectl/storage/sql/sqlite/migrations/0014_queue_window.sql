-- `queue window Q WINDOW --tz ZONE`: jobs of Q start only inside the window. The window is
-- kept as given, and as the stretch of time (UTC ms) it is open now or opens next, which
-- the claim reads: a claim of Q takes a job only while window_opens <= now < window_closes.
-- Once window_closes has passed, a worker's housekeeping works out the next stretch (the
-- idle plan's tick counts it), and until then the queue is closed, as it should be.
ALTER TABLE queues ADD COLUMN window_spec TEXT;      -- as given; NULL: no window
ALTER TABLE queues ADD COLUMN window_tz TEXT;        -- IANA name
ALTER TABLE queues ADD COLUMN window_opens INTEGER;
ALTER TABLE queues ADD COLUMN window_closes INTEGER;
