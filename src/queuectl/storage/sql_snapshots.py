"""Snapshots (`enqueue --snapshot`) in the SQL stores: stored with the jobs that use them,
read by the workers that copy them out, forgotten with the last job that used them.

A snapshot is a git tree kept once under its tree id (table snapshots), its files as rows
naming their contents by git blob id (snapshot_files), and each content kept once
(snapshot_blobs), whatever trees share it: a second enqueue of the same tree stores
nothing, one of a tree with one file changed stores one blob and the tree's rows.

Enqueue asks first what the store has (snapshot_stored, snapshot_blobs_missing) and sends
only the rest; in its transaction it checks the tree is whole after storing it, since a
purge may have forgotten what it was told was there (SnapshotIncomplete: the caller sends
it whole). On PostgreSQL an advisory lock keeps a purge's forgetting from running between
that check and the enqueue's commit (pg_snapshot_lock_shared, pg_snapshot_lock); SQLite's
write lock serialises both already.
"""

from __future__ import annotations

from collections.abc import Sequence

from queuectl.snapshots import Frozen, SnapshotIncomplete, TreeFile
from queuectl.storage.sql_store import C, SqlStore

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from typing import Any

    from queuectl.models import JobSpec


class SqlSnapshots(SqlStore[C]):
    """Storing, reading and forgetting snapshots over the dialect's named queries."""

    def _execute_many(self, conn: C, name: str, rows: Sequence[dict[str, Any]]) -> None:
        """Query ``name`` once per row of parameters, in the caller's transaction."""
        conn.executemany(self._q[name], rows)  # type: ignore[attr-defined]

    def _lock_snapshots(self, conn: C, *, shared: bool) -> None:
        """Keep storing (``shared``) and forgetting snapshots apart, until the transaction
        ends. SQLite's write lock does already."""

    # --- enqueue -------------------------------------------------------------------------

    def snapshot_stored(self, snapshot_id: str) -> bool:
        rows = self._read("snapshot_stored", {"id": snapshot_id})
        return bool(rows and rows[0][0])

    def snapshot_blobs_missing(self, blob_ids: Sequence[str]) -> set[str]:
        if not blob_ids:
            return set()
        rows = self._read("snapshot_blobs_missing", {"blobs": self._list(list(blob_ids))})
        return {row[0] for row in rows}

    def _store_snapshots(self, conn: C, specs: Sequence[JobSpec], ids: Sequence[str]) -> None:
        """In the insert's transaction: the snapshots of the new jobs that have one, each
        stored once and checked whole, then named by its jobs."""
        marks = [(job_id, spec.frozen) for spec, job_id in zip(specs, ids, strict=True)
                 if spec.frozen is not None]
        if not marks:
            return
        self._lock_snapshots(conn, shared=True)
        stored: set[str] = set()
        for _, frozen in marks:
            if frozen.snapshot.id not in stored:
                self._store_snapshot(conn, frozen)
                stored.add(frozen.snapshot.id)
        self._execute_many(conn, "mark_snapshot", [
            {"id": job_id, "snapshot": frozen.snapshot.to_column()} for job_id, frozen in marks])

    def _store_snapshot(self, conn: C, frozen: Frozen) -> None:
        snapshot = frozen.snapshot
        if frozen.blobs:
            self._execute_many(conn, "snapshot_blob_put", [
                {"id": blob, "data": data} for blob, data in frozen.blobs.items()])
        if not frozen.stored:
            conn.execute(self._q["snapshot_put"], {
                "id": snapshot.id, "files": len(frozen.files), "bytes": snapshot.bytes,
                **self._clock()})
            if frozen.files:
                self._execute_many(conn, "snapshot_file_put", [
                    {"snapshot": snapshot.id, "path": file.path, "mode": file.mode,
                     "blob": file.blob} for file in frozen.files])
        row = conn.execute(self._q["snapshot_stored"], {"id": snapshot.id}).fetchone()
        if not (row and row[0]):
            raise SnapshotIncomplete(snapshot.id)

    # --- workers -------------------------------------------------------------------------

    def snapshot_files(self, snapshot_id: str) -> list[TreeFile]:
        return [TreeFile(bytes(row[0]), int(row[1]), row[2], int(row[3]))
                for row in self._read("snapshot_files_of", {"id": snapshot_id})]

    def snapshot_blobs(self, blob_ids: Sequence[str]) -> dict[str, bytes]:
        if not blob_ids:
            return {}
        rows = self._read("snapshot_blobs_read", {"ids": self._list(list(blob_ids))})
        return {row[0]: bytes(row[1]) for row in rows}

    # --- purge and retention -------------------------------------------------------------

    def _snapshots_of(self, conn: C, job_ids: Sequence[str]) -> list[str]:
        """The snapshots the jobs ``job_ids`` use (read before they are deleted)."""
        params = {"ids": self._list(list(job_ids))}
        return [row[0] for row in conn.execute(self._q["snapshots_of_jobs"], params)]

    def _forget_snapshots(self, conn: C, snapshot_ids: Sequence[str]) -> None:
        """Of ``snapshot_ids``, delete those no job uses any more, with their files and the
        contents no other snapshot names, in the caller's transaction."""
        self._lock_snapshots(conn, shared=False)
        gone = [row[0] for row in conn.execute(
            self._q["snapshot_forget"], {"ids": self._list(list(snapshot_ids))})]
        if not gone:
            return
        blobs = sorted({row[0] for row in conn.execute(
            self._q["snapshot_forget_files"], {"ids": self._list(gone)})})
        if blobs:
            conn.execute(self._q["snapshot_forget_blobs"], {"blobs": self._list(blobs)})
