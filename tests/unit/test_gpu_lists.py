"""`worker start --gpus LIST|auto`: the list parsed (pure), nvidia-smi's answer read, and the
CUDA_VISIBLE_DEVICES a job of a pool with GPUs is given."""

from __future__ import annotations

import pytest

from queuectl.errors import InvalidValue, UsageError
from queuectl.gpulist import MAX_GPU_INDEX, parse_gpus, parse_nvidia_smi, pool_gpus
from queuectl.models import Job, State, utcnow
from queuectl.pool.worker import gpu_env


@pytest.mark.parametrize(("text", "gpus"), [
    ("0", [0]), ("0,1,2,3", [0, 1, 2, 3]), ("0-3", [0, 1, 2, 3]), ("3,0-1", [0, 1, 3]),
    (" 2 , 4-5 ", [2, 4, 5]), ("7-7", [7]), (str(MAX_GPU_INDEX), [MAX_GPU_INDEX]),
])
def test_lists_and_ranges_read_as_sorted_indexes(text: str, gpus: list[int]) -> None:
    assert parse_gpus(text) == gpus


@pytest.mark.parametrize("text", ["", "x", "0,", ",0", "0,,1", "-1", "0-", "1--2", "0-1-2",
                                  "1.5", "0x1", "auto,0", "０"])
def test_what_is_no_list_is_malformed(text: str) -> None:
    with pytest.raises(UsageError, match="invalid GPU list"):
        parse_gpus(text)


@pytest.mark.parametrize(("text", "why"), [
    ("1-0", "runs backwards"), ("0,0", "given twice"), ("0-2,2", "given twice"),
    (str(MAX_GPU_INDEX + 1), "at most"),
])
def test_values_out_of_reason_are_refused(text: str, why: str) -> None:
    with pytest.raises(InvalidValue, match=why):
        parse_gpus(text)


def test_no_flag_owns_no_gpu() -> None:
    assert pool_gpus(None) == []


def test_nvidia_smis_indexes_are_read_one_per_line() -> None:
    assert parse_nvidia_smi("0\n1\n2\n3\n") == [0, 1, 2, 3]
    assert parse_nvidia_smi("1\r\n0\r\n\n") == [0, 1]
    for bad in ("", "\n", "No devices were found\n", "0\nGPU 1\n"):
        with pytest.raises(InvalidValue, match="nvidia-smi listed no GPU"):
            parse_nvidia_smi(bad)
    with pytest.raises(InvalidValue, match="printed nothing"):
        parse_nvidia_smi("")
    with pytest.raises(InvalidValue, match="listed a GPU index twice"):
        parse_nvidia_smi("0\n0\n")  # as --gpus 0,0 is refused


def _job(**fields: object) -> Job:
    now = utcnow()
    return Job("j", "true", State.PROCESSING, 0, 0, 0, None, "default", now, now, now,
               **fields)  # type: ignore[arg-type]


def test_a_job_sees_the_gpus_it_was_given_and_no_other() -> None:
    assert gpu_env(_job(gpus=2, gpus_assigned=(1, 3))) == {"CUDA_VISIBLE_DEVICES": "1,3"}
    # Its own env cannot widen what it was given.
    given = _job(gpus=1, gpus_assigned=(2,), env={"CUDA_VISIBLE_DEVICES": "0,1,2"})
    assert gpu_env(given) == {"CUDA_VISIBLE_DEVICES": "2"}
    # A job without GPUs in a pool with GPUs sees none, unless its env says otherwise.
    assert gpu_env(_job()) == {"CUDA_VISIBLE_DEVICES": ""}
    assert gpu_env(_job(env={"CUDA_VISIBLE_DEVICES": "5"})) == {}
