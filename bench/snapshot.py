"""`enqueue --snapshot` of a large tree: what the first enqueue costs, and that the next
ones store nothing new (or one content, for one file changed).

Makes a git work tree in a temp dir (by default 5,000 files of random bytes, 50 MB in
all, in 50 folders, committed), then, on each store, times the real `queuectl enqueue
--snapshot -c true` process run in it: the first (every content sent), a second of the same
tree (nothing new), and one after a file changed (one content and the tree's rows); and
what a worker spends writing the tree out for an attempt (beside `cp -r` of the same
files: the file system's own cost) and removing it. After each
enqueue it counts the contents the store keeps and their bytes.

    python -m bench.snapshot [--files 5000] [--mb 50] [--backends sqlite postgres]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

from bench.driver import console_script
from bench.stores import Unavailable, throwaway

FOLDERS = 50


def make_tree(root: Path, files: int, total_mb: float) -> Path:
    """A committed git work tree of ``files`` files of random bytes, ``total_mb`` MB in all."""
    repo = root / "tree"
    size = int(total_mb * 1024 * 1024 / files)
    for n in range(files):
        folder = repo / f"d{n % FOLDERS:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{n:05d}.bin").write_bytes(os.urandom(size))
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "bench")
    return repo


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com",
                    "-C", str(repo), *args], check=True, capture_output=True)


def enqueue(url: str, repo: Path) -> tuple[float, str]:
    """Seconds one `queuectl enqueue --snapshot` process took, and the job id."""
    env = {**os.environ, "QUEUECTL_DB": url}
    began = time.perf_counter()
    done = subprocess.run([console_script(), "enqueue", "--snapshot", "-c", "true"], cwd=repo,
                          env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"enqueue failed: {done.stderr.strip()}")
    return took, done.stdout.strip()


def plain(url: str, repo: Path) -> float:
    """Seconds one plain `queuectl enqueue -c true` process took (the yardstick)."""
    began = time.perf_counter()
    subprocess.run([console_script(), "enqueue", "-c", "true"], cwd=repo, check=True,
                   env={**os.environ, "QUEUECTL_DB": url}, capture_output=True)
    return time.perf_counter() - began


def stored(url: str) -> tuple[int, int, int]:
    """(snapshots, contents, bytes of contents) the store keeps."""
    sql = ("SELECT (SELECT count(*) FROM snapshots), count(*), coalesce(sum({}(data)), 0) "
           "FROM snapshot_blobs")
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url) as conn:
            row = conn.execute(sql.format("octet_length").encode()).fetchone()
    else:
        with sqlite3.connect(url) as conn:
            row = conn.execute(sql.format("length")).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def copy_out(url: str, job_id: str, workdir: str) -> tuple[float, float]:
    """Seconds a worker spends writing the job's snapshot out, and removing it."""
    from queuectl.pool import snapshot_copy
    from queuectl.storage import open_store

    store = open_store(url)
    try:
        job = store.get_job(job_id)
        assert job is not None and job.snapshot is not None
        began = time.perf_counter()
        top = snapshot_copy.make(store, job.snapshot, workdir)
        made = time.perf_counter() - began
        began = time.perf_counter()
        snapshot_copy.remove(top)
        return made, time.perf_counter() - began
    finally:
        store.close()


def copy_yardstick(repo: Path, workdir: str) -> float:
    """Seconds `cp -r` takes to copy the tree's files (not .git): what the file system
    alone costs for a copy of it."""
    target = Path(tempfile.mkdtemp(dir=workdir))
    began = time.perf_counter()
    for folder in sorted(repo.glob("d*")):
        subprocess.run(["cp", "-r", str(folder), str(target)], check=True)
    took = time.perf_counter() - began
    subprocess.run(["rm", "-rf", str(target)], check=True)
    return took


def _shown(label: str, took: float, counts: tuple[int, int, int]) -> str:
    trees, blobs, size = counts
    return (f"  {label:<28} {took * 1000:8.0f} ms   store: {trees} trees, {blobs} contents, "
            f"{size / 1024 / 1024:.1f} MB")


def run(backend: str, repo: Path, workdir: str) -> None:
    try:
        with throwaway(backend, workdir) as url:
            print(f"{backend}:")
            plain(url, repo)  # the store made and migrated, outside the figures
            print(f"  {'yardstick: plain enqueue':<28} {plain(url, repo) * 1000:8.0f} ms")
            took, first = enqueue(url, repo)
            print(_shown("first enqueue", took, stored(url)))
            took, _ = enqueue(url, repo)
            print(_shown("same tree again", took, stored(url)))
            changed = next(repo.glob("d00/*.bin"))
            changed.write_bytes(os.urandom(changed.stat().st_size))
            took, _ = enqueue(url, repo)
            print(_shown("one file changed", took, stored(url)))
            _git(repo, "checkout", "-q", "--", ".")
            made, removed = copy_out(url, first, workdir)
            print(f"  {'worker: write the copy out':<28} {made * 1000:8.0f} ms   "
                  f"(yardstick: cp -r of the tree {copy_yardstick(repo, workdir) * 1000:.0f} ms)")
            print(f"  {'worker: remove it':<28} {removed * 1000:8.0f} ms")
    except Unavailable as exc:
        print(f"{backend}: skipped: {exc}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        repo = make_tree(Path(tmp), args.files, args.mb)
        print(f"tree: {args.files} files, {args.mb:g} MB, committed "
              f"({time.perf_counter() - began:.1f} s to make)")
        for backend in args.backends:
            run(backend, repo, tmp)


if __name__ == "__main__":
    main()
