-- `enqueue --snapshot`: code frozen at enqueue. A snapshot is a git tree, kept once under
-- its tree id; its files name their contents by git blob id, and a blob is kept once
-- whatever trees share it. A job's snapshot column is JSON {id, commit, dirty, bytes,
-- dir}; jobs_snapshot finds the jobs using a tree when purge and retention forget it.
-- Storing a snapshot and forgetting one are kept apart by an advisory lock (queries.sql:
-- snapshot_lock_shared, snapshot_lock).
ALTER TABLE jobs ADD COLUMN snapshot text;
CREATE INDEX jobs_snapshot ON jobs (((snapshot::jsonb) ->> 'id'))
    WHERE snapshot IS NOT NULL;
CREATE TABLE snapshots (
    id         text   PRIMARY KEY,            -- git tree id
    files      bigint NOT NULL,               -- rows in snapshot_files when stored whole
    bytes      bigint NOT NULL,               -- the files' total size
    created_at bigint NOT NULL
);
CREATE TABLE snapshot_files (
    snapshot text    NOT NULL,                -- snapshots.id
    path     bytea   NOT NULL,                -- from the tree's root, as git names it
    mode     integer NOT NULL,                -- 0o100644, 0o100755 or 0o120000 (a symlink)
    blob     text    NOT NULL,                -- snapshot_blobs.id
    PRIMARY KEY (snapshot, path)
);
CREATE INDEX snapshot_files_blob ON snapshot_files (blob);
CREATE TABLE snapshot_blobs (
    id   text  PRIMARY KEY,                   -- git blob id
    data bytea NOT NULL
);
