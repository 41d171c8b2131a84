"""Put on PYTHONPATH by ``python -m bench.profile``: with QUEUECTL_BENCH_PROFILE=DIR set,
every process forked from this interpreter (a pool's workers) profiles itself with cProfile
from the fork to its ``os._exit``, and writes DIR/PID.prof."""

from __future__ import annotations

import os

_DIR = os.environ.get("QUEUECTL_BENCH_PROFILE")


def _profile_child() -> None:
    import cProfile

    profile = cProfile.Profile()
    real_exit = os._exit

    def exit_and_dump(code: int) -> None:
        profile.disable()
        profile.dump_stats(os.path.join(str(_DIR), f"{os.getpid()}.prof"))
        real_exit(code)

    os._exit = exit_and_dump  # type: ignore[assignment]
    profile.enable()


if _DIR:
    os.register_at_fork(after_in_child=_profile_child)
