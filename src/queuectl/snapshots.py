"""Code frozen at enqueue (`enqueue --snapshot`): the tracked files of a git work tree as
they were then, kept in the store once per tree and copied out for every attempt.

Pure data and parsing only. Git is asked by app/snapshot.py (at enqueue), the store keeps
the files content-addressed by git's own ids (a tree's rows name their blobs; a blob is
stored once, whatever trees share it), and pool/snapshot_copy.py writes a tree out for an
attempt and removes it after.
"""

from __future__ import annotations

import json

from queuectl.errors import InvalidValue, QueuectlError
from queuectl.records import record

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

# git's file modes, as ls-tree prints them (octal); a gitlink (a submodule's commit) has
# no content in this repository and is left out of a snapshot.
MODE_FILE = 0o100644
MODE_EXECUTABLE = 0o100755
MODE_SYMLINK = 0o120000
MODE_GITLINK = 0o160000
MODES = frozenset({MODE_FILE, MODE_EXECUTABLE, MODE_SYMLINK})


@record(frozen=True)
class Snapshot:
    """The frozen code a job runs in: ``id`` the git tree id of the files kept, ``commit``
    the HEAD they were taken at, ``dirty`` whether tracked files differed from it, ``bytes``
    the files' total size, ``dir`` where the job runs, relative to the tree's root ("" for
    the root itself; "/"-separated)."""

    id: str
    commit: str
    dirty: bool
    bytes: int
    dir: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The job document's ``snapshot``."""
        return {"commit": self.commit, "dirty": self.dirty, "bytes": self.bytes}

    def describe(self) -> str:
        """One line for people (`show`, the dashboard): the commit, whether uncommitted
        changes were kept, the size."""
        changes = " + uncommitted changes" if self.dirty else ""
        return f"{self.commit[:12]}{changes}, {self.bytes} bytes"

    def to_column(self) -> str:
        """As the jobs table keeps it (a JSON object; the store finds a tree's users by
        its ``id``)."""
        return json.dumps({"id": self.id, "commit": self.commit, "dirty": self.dirty,
                           "bytes": self.bytes, "dir": self.dir}, ensure_ascii=False)


def snapshot_from_column(value: str | None) -> Snapshot | None:
    """The jobs table's snapshot column (NULL: the job has none) as a Snapshot."""
    if not value:
        return None
    doc = json.loads(value)
    return Snapshot(doc["id"], doc["commit"], bool(doc["dirty"]), int(doc["bytes"]),
                    doc.get("dir") or "")


@record(frozen=True)
class TreeFile:
    """One file of a tree: its path from the root (bytes, as git names it, "/"-separated),
    its mode (MODES), its blob id and its size in bytes (a symlink's blob is its target)."""

    path: bytes
    mode: int
    blob: str
    size: int


@record(frozen=True)
class Frozen:
    """A job's snapshot on its way to the store: the snapshot, its files, the work tree to
    read contents from (None: nothing to read), the contents the store lacks, by blob id
    (None: not read yet), and whether the store keeps the tree whole already (then nothing
    more is sent)."""

    snapshot: Snapshot
    files: tuple[TreeFile, ...] = ()
    root: str | None = None
    blobs: Mapping[str, bytes] | None = None
    stored: bool = False


class SnapshotIncomplete(QueuectlError):
    """A snapshot the store was told it keeps lost files meanwhile (a purge deleted the
    last job using it): enqueue sends it whole again."""

    def __init__(self, snapshot_id: str) -> None:
        super().__init__(f"snapshot {snapshot_id[:12]} is no longer stored whole: "
                         "enqueue it again")
        self.snapshot_id = snapshot_id


def parse_ls_tree(out: bytes) -> list[TreeFile]:
    """``git ls-tree -r -l -z --full-tree TREE`` output (``MODE TYPE ID SIZE<TAB>PATH``,
    NUL-terminated) as the files to keep, in git's order. Gitlinks (submodules) are left
    out. Raises ValueError for a line that is not one of ls-tree's."""
    files = []
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, tab, path = entry.partition(b"\t")
        parts = meta.split()
        if not tab or len(parts) != 4:
            raise ValueError(f"unexpected ls-tree line {entry[:80]!r}")
        mode = int(parts[0], 8)
        if mode == MODE_GITLINK:
            continue
        if mode not in MODES:
            raise ValueError(f"unexpected file mode {parts[0].decode()} for {path!r}")
        files.append(TreeFile(path, mode, parts[2].decode("ascii"), int(parts[3])))
    return files


def total_bytes(files: Iterable[TreeFile]) -> int:
    """The files' total size in bytes (each path counts, shared contents too)."""
    return sum(file.size for file in files)


def check_size(total: int, limit: int) -> None:
    """Refuse a snapshot of ``total`` bytes above ``limit`` (config max-snapshot-bytes)."""
    if total > limit:
        raise InvalidValue(f"snapshot of {_mb(total)} is above max-snapshot-bytes "
                           f"({_mb(limit)}); raise it with `queuectl config set "
                           f"max-snapshot-bytes N`, or enqueue without --snapshot")


def _mb(size: int) -> str:
    return f"{size} bytes" if size < 1024 * 1024 else f"{size / (1024 * 1024):.1f} MB"


def relative_dir(root: str, cwd: str) -> str:
    """Where ``cwd`` is under work tree ``root``, "/"-separated ("" for the root). Both are
    absolute, real paths (symlinks resolved). Raises InvalidValue when it is not under it."""
    if cwd == root:
        return ""
    prefix = root.rstrip("/") + "/"
    if not cwd.startswith(prefix):
        raise InvalidValue(f"{cwd} is not inside the work tree at {root}")
    return cwd[len(prefix):].strip("/")


def safe_parts(path: bytes) -> list[bytes]:
    """The components of a tree's relative path; raises ValueError for one that could leave
    the copy (absolute, empty, '.' or '..' components). Git never writes such a path, but
    the store's rows are data."""
    parts = path.split(b"/")
    if not path or any(part in (b"", b".", b"..") for part in parts):
        raise ValueError(f"unsafe path in snapshot: {path!r}")
    return parts


def blob_batches(files: Iterable[TreeFile], max_bytes: int) -> list[list[str]]:
    """The files' distinct blob ids, in batches of at most ``max_bytes`` (a larger blob
    alone): how a copy reads them from the store without holding a whole tree at once."""
    batches: list[list[str]] = []
    seen: set[str] = set()
    size = 0
    for file in files:
        if file.blob in seen:
            continue
        seen.add(file.blob)
        if not batches or (batches[-1] and size + file.size > max_bytes):
            batches.append([])
            size = 0
        batches[-1].append(file.blob)
        size += file.size
    return batches
