"""Put on PYTHONPATH by the bench (``--against``, ``python -m bench.profile``); acts only
when one of its variables is set, in every process forked from this interpreter (a pool's
workers):

- QUEUECTL_BENCH_WHERE=DIR: writes DIR/PID, the file the ``queuectl`` package it runs was
  imported from (so the bench can tell which revision's code a worker really runs: its
  /proc/PID/environ is overwritten once the process sets its title);
- QUEUECTL_BENCH_PROFILE=DIR: profiles itself with cProfile from the fork to its
  ``os._exit``, and writes DIR/PID.prof.
"""

from __future__ import annotations

import os
import sys

_WHERE = os.environ.get("QUEUECTL_BENCH_WHERE")
_PROFILE = os.environ.get("QUEUECTL_BENCH_PROFILE")


def _say_where() -> None:
    package = sys.modules.get("queuectl")
    where = getattr(package, "__file__", None) or "not imported"
    with open(os.path.join(str(_WHERE), str(os.getpid())), "w", encoding="utf-8") as f:
        f.write(where)


def _profile_child() -> None:
    import cProfile

    profile = cProfile.Profile()
    real_exit = os._exit

    def exit_and_dump(code: int) -> None:
        profile.disable()
        profile.dump_stats(os.path.join(str(_PROFILE), f"{os.getpid()}.prof"))
        real_exit(code)

    os._exit = exit_and_dump  # type: ignore[assignment]
    profile.enable()


if _WHERE:
    os.register_at_fork(after_in_child=_say_where)
if _PROFILE:
    os.register_at_fork(after_in_child=_profile_child)
