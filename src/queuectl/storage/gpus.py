"""What the stores read of GPUs, put together for the readers: each worker of a pool
started with --gpus gets its pool's GPUs, each with the job whose running attempt holds it.
No SQL here (the queries are worker_gpus and gpus_in_use)."""

from __future__ import annotations

import json

from queuectl.models import GpuUse
from queuectl.records import replace

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from queuectl.models import WorkerInfo


def with_gpus(workers: Sequence[WorkerInfo], pools: Sequence[Sequence[Any]],
              in_use: Sequence[Sequence[Any]]) -> list[WorkerInfo]:
    """``workers`` with their GPUs: ``pools`` are rows of (worker id, host, its pool's GPUs
    as a JSON array), ``in_use`` rows of (host, GPU index, job id) for the GPUs held."""
    owned = {row[0]: (row[1], json.loads(row[2])) for row in pools}
    held = {(row[0], int(row[1])): row[2] for row in in_use}
    found = []
    for worker in workers:
        if worker.id not in owned:
            found.append(worker)
            continue
        host, indexes = owned[worker.id]
        uses = [GpuUse(host, gpu, held.get((host, gpu))) for gpu in indexes]
        found.append(replace(worker, gpus=uses))
    return found
