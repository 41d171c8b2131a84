-- `rerun ID` makes a new job from an ended one: the new job names it here.
ALTER TABLE jobs ADD COLUMN rerun_of TEXT;
