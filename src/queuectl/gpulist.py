"""`worker start --gpus LIST|auto`: the GPUs a pool owns, as indexes of this host's GPUs
(as nvidia-smi numbers them). Parsing is pure; ``auto`` asks nvidia-smi."""

from __future__ import annotations

import re

from queuectl.errors import InvalidValue, UsageError

MAX_GPU_INDEX = 1023  # the highest GPU index a pool may own
NVIDIA_SMI = ("nvidia-smi", "--query-gpu=index", "--format=csv,noheader")
NVIDIA_SMI_TIMEOUT = 30.0  # seconds
_INDEX = re.compile(r"[0-9]+")
_ITEM = re.compile(r"([0-9]+)(?:-([0-9]+))?")  # ASCII digits only


def parse_gpus(text: str) -> list[int]:
    """A GPU list as given: indexes and ranges separated by commas (``0,1,2,3``, ``0-3``,
    ``0,2-3``), each index once, sorted. Raises UsageError for text that is no such list,
    InvalidValue for a range that runs backwards, an index given twice or above
    MAX_GPU_INDEX."""
    found: list[int] = []
    for item in text.split(","):
        match = _ITEM.fullmatch(item.strip())
        if match is None:
            raise UsageError(f"invalid GPU list {text!r}: indexes and ranges such as "
                             "0,1,2,3 or 0-3, or auto")
        low = int(match[1])
        high = low if match[2] is None else int(match[2])
        if high < low:
            raise InvalidValue(f"invalid GPU range {item.strip()!r}: it runs backwards")
        if high > MAX_GPU_INDEX:
            raise InvalidValue(f"invalid GPU index {high}: at most {MAX_GPU_INDEX}")
        found.extend(range(low, high + 1))
    if len(set(found)) != len(found):
        twice = next(gpu for gpu in found if found.count(gpu) > 1)
        raise InvalidValue(f"invalid GPU list {text!r}: GPU {twice} is given twice")
    return sorted(found)


def parse_nvidia_smi(output: str) -> list[int]:
    """The indexes ``nvidia-smi --query-gpu=index --format=csv,noheader`` printed, one per
    line. Raises InvalidValue for output that is not that, or lists no GPU."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        raise InvalidValue("--gpus auto: nvidia-smi listed no GPU (it printed nothing)")
    if not all(_INDEX.fullmatch(line) for line in lines):
        raise InvalidValue(f"--gpus auto: nvidia-smi listed no GPU indexes (it printed "
                           f"{lines[0][:60]!r})")
    indexes = [int(line) for line in lines]
    if len(set(indexes)) != len(indexes):
        raise InvalidValue(f"--gpus auto: nvidia-smi listed a GPU index twice "
                           f"({', '.join(lines)})")
    return sorted(indexes)


def detect_gpus() -> list[int]:
    """This host's GPU indexes, from nvidia-smi on $PATH. Raises InvalidValue when it is
    missing, fails or lists none."""
    import subprocess

    try:
        done = subprocess.run(NVIDIA_SMI, capture_output=True, text=True, check=False,
                              timeout=NVIDIA_SMI_TIMEOUT, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise InvalidValue("--gpus auto: nvidia-smi was not found on PATH; give the GPU "
                           "indexes (--gpus 0,1)") from None
    except subprocess.TimeoutExpired:
        raise InvalidValue(f"--gpus auto: nvidia-smi did not answer within "
                           f"{NVIDIA_SMI_TIMEOUT:g} s; give the GPU indexes (--gpus 0,1)"
                           ) from None
    except OSError as exc:
        raise InvalidValue(f"--gpus auto: nvidia-smi could not run: "
                           f"{exc.strerror or exc}") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        why = said[0][:120] if said else f"exit code {done.returncode}"
        raise InvalidValue(f"--gpus auto: nvidia-smi failed: {why}")
    return parse_nvidia_smi(done.stdout)


def pool_gpus(text: str | None) -> list[int]:
    """`--gpus`: ``auto`` (nvidia-smi's indexes), a GPU list (parse_gpus), or None: no
    GPUs ([])."""
    if text is None:
        return []
    if text.strip() == "auto":
        return detect_gpus()
    return parse_gpus(text)
