-- `enqueue --snapshot`: code frozen at enqueue. A snapshot is a git tree, kept once under
-- its tree id; its files name their contents by git blob id, and a blob is kept once
-- whatever trees share it. A job's snapshot column is JSON {id, commit, dirty, bytes,
-- dir}; jobs_snapshot finds the jobs using a tree when purge and retention forget it.
ALTER TABLE jobs ADD COLUMN snapshot TEXT;
CREATE INDEX jobs_snapshot ON jobs (json_extract(snapshot, '$.id'))
    WHERE snapshot IS NOT NULL;
CREATE TABLE snapshots (
    id         TEXT    PRIMARY KEY,           -- git tree id
    files      INTEGER NOT NULL,              -- rows in snapshot_files when stored whole
    bytes      INTEGER NOT NULL,              -- the files' total size
    created_at INTEGER NOT NULL
);
CREATE TABLE snapshot_files (
    snapshot TEXT    NOT NULL,                -- snapshots.id
    path     BLOB    NOT NULL,                -- from the tree's root, as git names it
    mode     INTEGER NOT NULL,                -- 0o100644, 0o100755 or 0o120000 (a symlink)
    blob     TEXT    NOT NULL,                -- snapshot_blobs.id
    PRIMARY KEY (snapshot, path)
) WITHOUT ROWID;
CREATE INDEX snapshot_files_blob ON snapshot_files (blob);
CREATE TABLE snapshot_blobs (
    id   TEXT PRIMARY KEY,                    -- git blob id
    data BLOB NOT NULL
);
