"""From the fields a user gave to complete JobSpecs: the one way in for every job.

The click `enqueue`, its click-free fast path (both through cli/enqueue_core.py) and the
Python API (api.py) all build jobs here, from the fields a JSON job holds (specs.FIELDS),
so a field that specs.py learns is learnt by all of them at once. Every job is checked
before the store is touched; the store then inserts them in one transaction or none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from queuectl import specs
from queuectl.errors import InvalidValue, QueuectlError, StoreUnavailable
from queuectl.models import JobSpec
from queuectl.records import field, record
from queuectl.settings import Config
from queuectl.storage.base import Storage

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from typing import Any


@record(frozen=True)
class Defaults:
    """What a job's omitted fields are resolved against: the stored config (max_retries,
    timeout) and the directory enqueue runs in (cwd; None when it has been deleted)."""

    config: Config
    base_cwd: str | None

    @classmethod
    def of(cls, store: Storage) -> Defaults:
        return cls(Config.from_stored(store.config_items()), specs.current_dir())

    @classmethod
    def found(cls, store_of: Callable[[bool], Storage]) -> tuple[Defaults, Storage | None]:
        """The defaults jobs take, found before a store is created: ``store_of(create)``
        opens the store (creating it only with ``create``). An existing store's config, and
        the store; or, when it is missing (or out of reach, which opening it to write will
        say), the config a new store starts with and None. So jobs are checked before a
        missing store is made, and a refused job leaves none behind."""
        try:
            store = store_of(False)
        except StoreUnavailable:
            return cls(Config.from_stored({}), specs.current_dir()), None
        return cls.of(store), store


@record
class Batch:
    """Checked jobs to insert together, and which entry named each user-given id."""

    specs: list[JobSpec] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # id -> "line 3" / "entry 2"
    lines: list[str] = field(default_factory=list)  # every entry's label, in batch order


def single(fields: Mapping[str, Any], fallback: Defaults) -> Batch:
    """One job from its fields; a refusal is specs' own error, unlabelled."""
    return Batch([specs.build_spec(fields, fallback.config, fallback.base_cwd)])


def batch(
    entries: Iterable[tuple[str, Mapping[str, Any]]], fallback: Defaults, *,
    defaults: Mapping[str, Any] | None = None, utf8_checked: bool = False,
    source: str = "the file",
) -> Batch:
    """Jobs from labelled entries (``("line 3", fields)``), each merged over ``defaults``.

    Raises InvalidValue naming the entry for the first refused one, and for an id that two
    entries give (both entries; ``source`` says where they are, e.g. "the file"). The
    entries are data, so a malformed value is refused as invalid too (exit 1).
    ``utf8_checked``: see specs.utf8_checked_batch."""
    out = Batch()
    for label, fields in entries:
        out.lines.append(label)
        try:
            merged = specs.merge(defaults, fields) if defaults else fields
            spec = specs.build_spec(merged, fallback.config, fallback.base_cwd,
                                    utf8_checked=utf8_checked)
        except QueuectlError as exc:
            raise InvalidValue(f"{label}: {exc}") from None
        if spec.id is not None:
            if spec.id in out.labels:
                raise InvalidValue(f"{label}: job {spec.id!r} appears twice in {source} "
                                   f"(also {out.labels[spec.id]})")
            out.labels[spec.id] = label
        out.specs.append(spec)
    return out
