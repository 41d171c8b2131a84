-- `queue rate Q N/DUR`: at most N jobs of Q start in any window of DUR, on any host.
ALTER TABLE queues ADD COLUMN rate_count INTEGER;  -- N; NULL: no rate
ALTER TABLE queues ADD COLUMN rate_ms INTEGER;     -- DUR in ms

-- The starts of each rated queue's jobs within its window (older ones are deleted as new
-- ones come): a claim of a rated queue counts them inside its write lock, so the rate is
-- never exceeded. Queues without a rate write nothing here.
CREATE TABLE queue_starts (
    queue      TEXT    NOT NULL,
    started_at INTEGER NOT NULL
);
CREATE INDEX queue_starts_queue ON queue_starts (queue, started_at);

-- Every claim sets runs (and nothing else does): a start of a job of a rated queue is
-- recorded, and its queue's starts that fell out of the window are forgotten.
CREATE TRIGGER jobs_rate_start AFTER UPDATE OF runs ON jobs
WHEN new.state = 'processing'
 AND EXISTS (SELECT 1 FROM queues WHERE name = new.queue AND rate_count IS NOT NULL)
BEGIN
    DELETE FROM queue_starts
    WHERE queue = new.queue
      AND started_at <= new.started_at - (SELECT rate_ms FROM queues WHERE name = new.queue);
    INSERT INTO queue_starts (queue, started_at) VALUES (new.queue, new.started_at);
END;
