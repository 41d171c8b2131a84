"""A job's snapshot (`enqueue --snapshot`) written out for one attempt, and removed after.

Every attempt, on any host, gets a fresh copy in a folder of its worker's own (private,
0700), so nothing an attempt changes is seen by the next one. Files keep their executable
bit (new files take the umask, as a git checkout does) and symlinks stay symlinks. The
contents are read from the store in batches of about BATCH_BYTES, so a worker never holds
a whole large tree at once.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile

from queuectl.snapshots import MODE_EXECUTABLE, MODE_SYMLINK, blob_batches, safe_parts

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from queuectl.snapshots import Snapshot, TreeFile
    from queuectl.storage.base import Storage

BATCH_BYTES = 16 * 1024 * 1024  # contents read from the store per query, about
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class SnapshotMissing(Exception):
    """The store no longer has the job's snapshot whole."""


def make(store: Storage, snapshot: Snapshot, parent: str) -> str:
    """A fresh copy of ``snapshot`` in a new folder under ``parent``; returns that folder
    (the job runs in ``run_dir`` of it). Raises SnapshotMissing, the store's errors, or
    OSError; no copy is left behind then."""
    top = tempfile.mkdtemp(prefix="snapshot-", dir=parent)
    try:
        _write_tree(store, snapshot, top)
        os.makedirs(run_dir(top, snapshot), exist_ok=True)
    except BaseException:
        remove(top)
        raise
    return top


def run_dir(top: str, snapshot: Snapshot) -> str:
    """Where a job runs in its copy at ``top``: its enqueue directory, relative to the
    work tree's root."""
    return os.path.join(top, snapshot.dir) if snapshot.dir else top


def _write_tree(store: Storage, snapshot: Snapshot, top: str) -> None:
    files = store.snapshot_files(snapshot.id)
    if not files and snapshot.bytes:
        raise SnapshotMissing(f"snapshot {snapshot.id[:12]} is not in the store")
    by_blob: dict[str, list[TreeFile]] = {}
    for file in files:
        by_blob.setdefault(file.blob, []).append(file)
    root = os.fsencode(top)
    for batch in blob_batches(files, BATCH_BYTES):
        contents = store.snapshot_blobs(batch)
        for blob in batch:
            if blob not in contents:
                raise SnapshotMissing(f"snapshot {snapshot.id[:12]} lacks a file's contents")
            for file in by_blob[blob]:
                write_file(root, file, contents[blob])


def write_file(root: bytes, file: TreeFile, data: bytes) -> None:
    """Write one file of a tree under ``root``: a symlink (its target is ``data``), or a
    file with or without its executable bit (the umask applies). Raises ValueError for a
    path that would leave ``root``."""
    parts = safe_parts(file.path)
    folder = os.path.join(root, *parts[:-1])
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, parts[-1])
    if file.mode == MODE_SYMLINK:
        os.symlink(data, target)
        return
    fd = os.open(target, _WRITE_FLAGS, 0o777 if file.mode == MODE_EXECUTABLE else 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def remove(top: str) -> None:
    """Remove a copy, whatever its job did to it (folders it made read-only too)."""

    def unlock(function: object, path: str, _: object) -> None:
        parent = os.path.dirname(path)
        try:
            os.chmod(parent, os.stat(parent).st_mode | stat.S_IRWXU)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | stat.S_IRWXU)
                shutil.rmtree(path, onerror=unlock)
            else:
                os.unlink(path)
        except OSError:
            pass

    shutil.rmtree(top, onerror=unlock)
