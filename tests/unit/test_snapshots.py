"""The pure parts of `enqueue --snapshot`: git's listings read, paths checked, sizes
capped, contents batched, a job's snapshot kept and read back, one file written out."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.app.snapshot import _parse_batch
from queuectl.errors import InvalidValue
from queuectl.pool.snapshot_copy import remove, run_dir, write_file
from queuectl.snapshots import (
    MODE_EXECUTABLE,
    MODE_FILE,
    MODE_SYMLINK,
    Snapshot,
    TreeFile,
    blob_batches,
    check_size,
    parse_ls_tree,
    relative_dir,
    safe_parts,
    snapshot_from_column,
    total_bytes,
)

A, B, C = "a" * 40, "b" * 40, "c" * 40


def test_ls_tree_output_is_read_and_submodules_left_out() -> None:
    out = (f"100644 blob {A}      12\tsrc/a.py\0"
           f"100755 blob {B}       7\trun.sh\0"
           f"120000 blob {C}       5\tlink\0"
           f"160000 commit {A}       -\tvendor/lib\0"
           f"100644 blob {A}      12\tname with\ttab\0").encode()
    assert parse_ls_tree(out) == [
        TreeFile(b"src/a.py", MODE_FILE, A, 12), TreeFile(b"run.sh", MODE_EXECUTABLE, B, 7),
        TreeFile(b"link", MODE_SYMLINK, C, 5), TreeFile(b"name with\ttab", MODE_FILE, A, 12)]
    assert parse_ls_tree(b"") == []
    with pytest.raises(ValueError):
        parse_ls_tree(b"garbage\0")
    with pytest.raises(ValueError):
        parse_ls_tree(f"040000 tree {A} -\tdir\0".encode())  # -r lists no trees


def test_sizes_are_capped_by_max_snapshot_bytes() -> None:
    files = [TreeFile(b"a", MODE_FILE, A, 600_000), TreeFile(b"b", MODE_FILE, A, 600_000)]
    assert total_bytes(files) == 1_200_000  # each path counts, shared contents too
    check_size(1_200_000, 1_200_000)
    with pytest.raises(InvalidValue, match=r"snapshot of 1\.1 MB is above max-snapshot-bytes"):
        check_size(1_200_000, 1_199_999)


def test_the_enqueue_directory_relative_to_the_root() -> None:
    assert relative_dir("/w/repo", "/w/repo") == ""
    assert relative_dir("/w/repo", "/w/repo/a/b") == "a/b"
    assert relative_dir("/", "/a") == "a"
    with pytest.raises(InvalidValue):
        relative_dir("/w/repo", "/w/repo2")
    assert run_dir("/t/x", Snapshot(A, B, False, 0, "a/b")) == "/t/x/a/b"
    assert run_dir("/t/x", Snapshot(A, B, False, 0, "")) == "/t/x"


@pytest.mark.parametrize("path", [b"", b"/etc/passwd", b"a/../../b", b"./a", b"a//b", b".."])
def test_paths_that_could_leave_the_copy_are_refused(path: bytes) -> None:
    with pytest.raises(ValueError):
        safe_parts(path)


def test_a_job_s_snapshot_is_kept_and_read_back() -> None:
    snapshot = Snapshot(A, B, True, 42, "sub/dir é")
    assert snapshot_from_column(snapshot.to_column()) == snapshot
    assert snapshot_from_column(None) is None
    assert snapshot.to_dict() == {"commit": B, "dirty": True, "bytes": 42}
    assert snapshot.describe() == "bbbbbbbbbbbb + uncommitted changes, 42 bytes"


@given(st.lists(st.tuples(st.sampled_from([A, B, C, "d" * 40, "e" * 40]),
                          st.integers(0, 100)), max_size=30),
       st.integers(1, 150))
def test_contents_are_read_in_batches_each_once(sizes: list[tuple[str, int]],
                                                 limit: int) -> None:
    seen: dict[str, int] = {}
    files = []
    for n, (blob, size) in enumerate(sizes):
        size = seen.setdefault(blob, size)  # one content, one size
        files.append(TreeFile(f"f{n}".encode(), MODE_FILE, blob, size))
    batches = blob_batches(files, limit)
    flat = [blob for batch in batches for blob in batch]
    assert flat == list(dict.fromkeys(blob for blob, _ in sizes))
    for batch in batches:
        assert batch
        assert len(batch) == 1 or sum(seen[blob] for blob in batch) <= limit


def test_cat_file_batch_output_is_split_by_sizes() -> None:
    out = f"{A} blob 3\nab\n\n{B} blob 0\n\n".encode()
    assert _parse_batch(out, [A, B]) == {A: b"ab\n", B: b""}
    with pytest.raises(InvalidValue, match="missing"):
        _parse_batch(f"{A} missing\n".encode(), [A])


def test_files_are_written_with_their_modes_and_symlinks_and_removed_whatever_the_job_did(
    tmp_path: Path,
) -> None:
    root = os.fsencode(tmp_path / "copy")
    write_file(root, TreeFile(b"d/e/plain.txt", MODE_FILE, A, 2), b"hi")
    write_file(root, TreeFile(b"run.sh", MODE_EXECUTABLE, B, 9), b"#!/bin/sh")
    write_file(root, TreeFile(b"link", MODE_SYMLINK, C, 11), b"d/e/plain.txt")
    copy = tmp_path / "copy"
    assert (copy / "d" / "e" / "plain.txt").read_bytes() == b"hi"
    assert os.access(copy / "run.sh", os.X_OK)
    assert not os.access(copy / "d" / "e" / "plain.txt", os.X_OK)
    assert os.readlink(copy / "link") == "d/e/plain.txt"
    assert (copy / "link").read_bytes() == b"hi"
    with pytest.raises(FileExistsError):  # never over a file that is there
        write_file(root, TreeFile(b"run.sh", MODE_FILE, A, 1), b"x")
    with pytest.raises(ValueError):
        write_file(root, TreeFile(b"../out", MODE_FILE, A, 1), b"x")
    (copy / "d" / "e").chmod(stat.S_IRUSR | stat.S_IXUSR)  # a job made a folder read-only
    remove(str(copy))
    assert not copy.exists()
