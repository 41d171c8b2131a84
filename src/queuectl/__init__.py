"""queuectl: a persistent background job queue for shell commands.

``from queuectl import Queue`` is the Python API (see queuectl.api). The names below are
imported on first use, so that `import queuectl` (which every CLI call does) stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"

# Not typing.TYPE_CHECKING: importing typing would cost every CLI call that never needs it
# (type checkers treat any name TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:  # what type checkers see; at run time __getattr__ imports on demand
    from typing import Any

    from queuectl.api import Queue as Queue
    from queuectl.errors import DuplicateJob as DuplicateJob
    from queuectl.errors import InvalidJob as InvalidJob
    from queuectl.errors import InvalidValue as InvalidValue
    from queuectl.errors import JobNotFound as JobNotFound
    from queuectl.errors import NoOutput as NoOutput
    from queuectl.errors import QueuectlError as QueuectlError
    from queuectl.errors import StoreUnavailable as StoreUnavailable
    from queuectl.errors import WrongState as WrongState
    from queuectl.models import Attempt as Attempt
    from queuectl.models import Job as Job
    from queuectl.models import State as State

_EXPORTS = {
    "Queue": "queuectl.api",
    "Job": "queuectl.models", "Attempt": "queuectl.models", "State": "queuectl.models",
    "QueuectlError": "queuectl.errors", "InvalidJob": "queuectl.errors",
    "InvalidValue": "queuectl.errors", "JobNotFound": "queuectl.errors",
    "DuplicateJob": "queuectl.errors", "WrongState": "queuectl.errors",
    "NoOutput": "queuectl.errors", "StoreUnavailable": "queuectl.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'queuectl' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
