"""Hooks: `hook add`, `hook list`, `hook remove`, as every front end offers them.

A hook's jobs are enqueued by the store itself, in the transaction that changes the job
(see the dialects' schema.sql), so this module only checks and keeps the hooks.
"""

from __future__ import annotations

from queuectl.errors import InvalidValue, QueuectlError
from queuectl.models import HOOK_EVENTS, Hook
from queuectl.text import CONTROL_CHARS

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from queuectl.storage.base import Storage

MAX_NAME_CHARS = 100
HOOK_QUEUE = "hooks"  # the queue of every hook's jobs
HOOK_EVENTS_SHOWN = HOOK_EVENTS


class HookExists(QueuectlError):
    """`hook add` of a name that is taken, without --replace."""

    def __init__(self, name: str) -> None:
        super().__init__(f"hook {name!r} already exists (--replace to change it)")


class HookNotFound(QueuectlError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no hook named {name!r}")


def parse_events(events: str | Sequence[str]) -> tuple[str, ...]:
    """EVENT[,EVENT...] (or a list of them), each one of HOOK_EVENTS; repeats count once.
    Raises InvalidValue naming the valid events."""
    items = events.split(",") if isinstance(events, str) else list(events)
    found = tuple(dict.fromkeys(item.strip().lower() for item in items if item.strip()))
    wrong = [event for event in found if event not in HOOK_EVENTS]
    if wrong or not found:
        shown = repr(wrong[0]) if wrong else "none"
        raise InvalidValue(f"invalid hook event {shown}: use {', '.join(HOOK_EVENTS)}")
    return found


def check_name(name: str) -> str:
    if not 1 <= len(name) <= MAX_NAME_CHARS or CONTROL_CHARS.search(name):
        raise InvalidValue(f"invalid hook name {name[:40]!r}: 1-{MAX_NAME_CHARS} characters, "
                           "no control characters")
    return name


def add(store: Storage, name: str, on: str | Sequence[str], command: str, *,
        queue: str | None = None, cron: str | None = None, cwd: str | None = None,
        replace: bool = False) -> Hook:
    """Add hook ``name``: when a job (of ``queue``, of schedule ``cron``) meets one of the
    events ``on``, a job running ``command`` (in ``cwd``, default the current directory)
    is enqueued in queue `hooks`. Raises InvalidValue for a bad name, event, command or
    queue, HookExists for a taken name unless ``replace``; nothing is written then."""
    from queuectl import specs

    hook = Hook(name=check_name(name), on=parse_events(on),
                command=specs.check_command(command),
                queue=None if queue is None else specs.check_queue(queue), cron=cron,
                cwd=specs.check_cwd(cwd, specs.current_dir()))
    if not store.hook_add(hook, replace=replace):
        raise HookExists(name)
    return hook


def listed(store: Storage) -> list[Hook]:
    """Every hook, by name (`hook list`)."""
    return store.hooks()


def remove(store: Storage, name: str) -> None:
    """Remove hook ``name``; raises HookNotFound."""
    if not store.hook_remove(name):
        raise HookNotFound(name)


def docs(hooks: Sequence[Hook]) -> list[dict[str, Any]]:
    """`hook list --json`."""
    return [hook.to_dict() for hook in hooks]
