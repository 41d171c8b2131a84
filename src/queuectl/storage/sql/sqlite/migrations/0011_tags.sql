-- `enqueue --tag`: a job's tags, a JSON array of strings (NULL: none); `list --tag` finds
-- the jobs that hold every tag asked for.
ALTER TABLE jobs ADD COLUMN tags TEXT;
