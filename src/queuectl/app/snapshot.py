"""`enqueue --snapshot`: freezing a git work tree's tracked files at enqueue.

Two steps, so that a refusal leaves everything as it was. ``freeze`` asks git, before any
store is touched (or made): which tree the tracked files make now (HEAD plus uncommitted
changes to tracked files; untracked files are left out and never make it dirty), its files
and their sizes; a directory outside a work tree, a repository without a commit and a tree
above config max-snapshot-bytes are refused there. ``upload`` then asks the store what it
lacks and reads only that from git, for the insert's transaction to store.

The tree is what `git add -u` would stage, written with `git write-tree` from a copy of the
index (the user's index is never touched): its id is git's own tree id, so the same files
always make the same snapshot, and each file's blob id keys its content in the store. Git
writes the objects of changed files into the repository, as `git stash create` would; they
are unreferenced and `git gc` drops them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from queuectl.errors import InvalidJob, InvalidValue
from queuectl.snapshots import (
    Frozen,
    Snapshot,
    SnapshotIncomplete,
    check_size,
    parse_ls_tree,
    relative_dir,
    total_bytes,
)

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    from queuectl.storage.base import Storage
    from queuectl.submit import Batch

    T = TypeVar("T")

GIT_TIMEOUT = 300.0  # seconds: reading a large tree's contents takes a few at most


class GitFailed(Exception):
    """A git command exited non-zero: its stderr's first line."""


def _git(cwd: str, *args: str, index: str | None = None, stdin: bytes | None = None) -> bytes:
    """The stdout of ``git -C cwd ARGS`` (``index``: the index file it reads and writes).
    Raises GitFailed, or InvalidValue when git is not installed."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    env.pop("GIT_INDEX_FILE", None)
    if index is not None:
        env["GIT_INDEX_FILE"] = index
    try:
        done = subprocess.run(["git", "-C", cwd, *args], input=stdin, capture_output=True,
                              env=env, timeout=GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise InvalidValue("--snapshot needs git, which is not installed") from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitFailed(lines[0] if lines else f"git {args[0]} failed")
    return done.stdout


def _line(out: bytes) -> str:
    return out.decode("utf-8", "surrogateescape").strip()


def take(cwd: str, max_bytes: int) -> Frozen:
    """The tracked files of the work tree ``cwd`` is in, as they are now, with no contents
    read yet. Raises InvalidValue outside a work tree, in a repository without a commit,
    or above ``max_bytes`` in all."""
    try:
        root = _line(_git(cwd, "rev-parse", "--show-toplevel"))
    except GitFailed as exc:
        why = str(exc).removeprefix("fatal: ")
        if "not a git repository" in why or "must be run in a work tree" in why:
            why = "not inside a git work tree"
        raise InvalidValue(f"cannot snapshot {cwd}: {why}") from None
    if not root:  # inside a .git directory: no work tree
        raise InvalidValue(f"cannot snapshot {cwd}: not inside a git work tree")
    try:
        commit, head_tree = _line(_git(root, "rev-parse", "HEAD^{commit}", "HEAD^{tree}")).split()
    except (GitFailed, ValueError):
        raise InvalidValue(f"cannot snapshot {cwd}: the repository at {root} has no "
                           "commit yet") from None
    try:
        tree = _work_tree(root)
        files = parse_ls_tree(_git(root, "ls-tree", "-r", "-l", "-z", "--full-tree", tree))
    except (GitFailed, ValueError) as exc:
        raise InvalidValue(f"cannot snapshot {cwd}: {exc}") from None
    size = total_bytes(files)
    check_size(size, max_bytes)
    where = relative_dir(os.path.realpath(root), os.path.realpath(cwd))
    snapshot = Snapshot(tree, commit, tree != head_tree, size, where)
    return Frozen(snapshot, tuple(files), root)


def _work_tree(root: str) -> str:
    """The id of the tree the tracked files of work tree ``root`` make now: `git add -u`
    into a copy of its index, then `git write-tree`."""
    index = os.path.join(root, _line(_git(root, "rev-parse", "--git-path", "index")))
    with tempfile.TemporaryDirectory(prefix="queuectl-index-") as folder:
        copy = os.path.join(folder, "index")
        if os.path.exists(index):
            # Its times too: git takes a file changed in the index's own second for
            # possibly changed ("racily clean") only by comparing it with the index's mtime.
            shutil.copy2(index, copy)
        else:  # no index yet: the files of HEAD are the tracked ones
            _git(root, "read-tree", "HEAD", index=copy)
        _git(root, "add", "-u", index=copy)
        return _line(_git(root, "write-tree", index=copy))


def read_blobs(root: str, blob_ids: set[str]) -> dict[str, bytes]:
    """The contents of ``blob_ids`` from the repository of work tree ``root`` (one
    `git cat-file --batch`). Raises InvalidValue when git cannot give one."""
    if not blob_ids:
        return {}
    ids = sorted(blob_ids)
    try:
        out = _git(root, "cat-file", "--batch", stdin="".join(f"{i}\n" for i in ids).encode())
    except GitFailed as exc:
        raise InvalidValue(f"cannot read the snapshot's files: {exc}") from None
    return _parse_batch(out, ids)


def _parse_batch(out: bytes, ids: list[str]) -> dict[str, bytes]:
    """`git cat-file --batch` output (``ID TYPE SIZE\\nCONTENT\\n`` each) for ``ids``."""
    found: dict[str, bytes] = {}
    at = 0
    for blob in ids:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        if len(header) != 3:
            raise InvalidValue(f"cannot read the snapshot's file {blob}: "
                               f"{out[at:end].decode('utf-8', 'replace')}")
        size = int(header[2])
        found[blob] = out[end + 1:end + 1 + size]
        at = end + 1 + size + 1
    return found


def freeze(batch: Batch, max_bytes: int) -> None:
    """Take the snapshot of every job of ``batch`` that asks for one (``spec.snapshot``),
    once per directory; no contents are read yet. Raises InvalidValue (InvalidJob naming
    the entry, in a labelled batch); nothing is written anywhere then."""
    from dataclasses import replace

    taken: dict[str, Frozen] = {}
    for n, spec in enumerate(batch.specs):
        if not spec.snapshot or spec.frozen is not None:
            continue
        try:
            if spec.cwd not in taken:
                taken[spec.cwd] = take(spec.cwd, max_bytes)
        except InvalidValue as exc:
            if batch.lines:
                raise InvalidJob(f"{batch.lines[n]}: {exc}") from None
            raise
        batch.specs[n] = replace(spec, frozen=taken[spec.cwd])


def upload(store: Storage, batch: Batch, *, whole: bool = False) -> Batch:
    """``batch`` with each snapshot made ready to store: nothing more for a tree the store
    keeps whole, else its files and the contents the store lacks (``whole``: every content,
    when the store lost what it said it had)."""
    from dataclasses import replace

    from queuectl.submit import Batch

    ready: dict[str, Frozen] = {}
    specs = list(batch.specs)
    for n, spec in enumerate(specs):
        frozen = spec.frozen
        if frozen is None or frozen.root is None:
            continue
        key = frozen.snapshot.id  # one tree, read once; each job keeps its own directory
        if key not in ready:
            ready[key] = _ready(store, frozen, frozen.root, whole=whole)
        specs[n] = replace(spec, frozen=replace(ready[key], snapshot=frozen.snapshot))
    return Batch(specs, batch.labels, batch.lines)


def _ready(store: Storage, frozen: Frozen, root: str, *, whole: bool) -> Frozen:
    from dataclasses import replace

    if not whole and store.snapshot_stored(frozen.snapshot.id):
        return replace(frozen, files=(), blobs={}, stored=True)
    blob_ids = sorted({file.blob for file in frozen.files})
    missing = set(blob_ids) if whole else store.snapshot_blobs_missing(blob_ids)
    return replace(frozen, blobs=read_blobs(root, missing))


def stored(store: Storage, batch: Batch, put: Callable[[Batch], T]) -> T:
    """``put(batch)`` (the insert) with the batch's snapshots made ready to store; once
    more with every content when a purge forgot a tree or content meanwhile."""
    try:
        return put(upload(store, batch))
    except SnapshotIncomplete:
        return put(upload(store, batch, whole=True))


def kept(job_snapshot: Snapshot) -> Frozen:
    """A stored job's snapshot given to a new job (`rerun`): nothing to send."""
    return Frozen(job_snapshot, stored=True)
