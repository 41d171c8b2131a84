"""From what a user typed (a JSON object, flags, a JSON-lines file) to validated JobSpecs.

Shape errors (not JSON, not an object, an unknown key, a wrong type, fields that exclude
each other) and values that cannot be read as their type (a duration, a time) are usage
errors (exit 2); values that read but are out of range are invalid values (exit 1). In a
bulk file every refusal is an invalid value naming its line: the file is data, not
arguments. Everything is checked before the store is touched.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from queuectl.errors import InvalidValue, UsageError
from queuectl.models import JobSpec, Rate
from queuectl.settings import MIN_TIMEOUT, Config
from queuectl.text import CONTROL_CHARS

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from typing import Any

FIELDS = ("id", "command", "max_retries", "priority", "timeout", "run_at", "delay", "queue",
          "cwd", "env", "after", "unique_key", "held", "tags", "success_exit",
          "no_retry_exit", "deadline", "expires_at", "after_any", "after_failure", "mutex",
          "on_duplicate", "debounce", "snapshot", "gpus")
_FIELD_SET = frozenset(FIELDS)
MAX_ID_CHARS = 200
MAX_QUEUE_CHARS = 100
MAX_TAG_CHARS = 100
MAX_TAGS = 20  # tags per job
MAX_GPUS = 1024  # GPUs one job may ask for
# Linux refuses a single exec argument longer than MAX_ARG_STRLEN (32 pages, with its NUL):
# a longer command could never start, so it is refused at the door.
MAX_COMMAND_BYTES = 32 * 4096 - 1
# The same limit holds for each KEY=VALUE string of the environment; and the command and
# the whole environment together must fit ARG_MAX (2 MiB on Linux with the usual 8 MiB
# stack). The worker adds its own environment beside the job's, so a job may use half.
MAX_EXEC_BYTES = 1024 * 1024
# What shells and env(1) accept as a variable name (POSIX: portable names).
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"  # a pattern, compiled by re when a job gives an env
INT32 = 2**31 - 1  # what every store keeps in an integer column


# A JSON escape of a UTF-16 surrogate: the only way JSON text read as UTF-8 yields one.
_SURROGATE_ESCAPE = r"\\u[dD][89a-fA-F]"  # compiled by re for the JSON that is read


def _has_control(text: str) -> bool:
    return CONTROL_CHARS.search(text) is not None


def check_id(job_id: object) -> str:
    if not isinstance(job_id, str):
        raise UsageError(f"id must be a string, not {_kind(job_id)}")
    if not 1 <= len(job_id) <= MAX_ID_CHARS or _has_control(job_id):
        raise InvalidValue(
            f"invalid id {job_id[:40]!r}: 1-{MAX_ID_CHARS} characters, no control characters"
        )
    return job_id


def check_unique_key(key: object) -> str | None:
    """A unique key is text like an id: 1-200 characters without control characters."""
    if key is None:
        return None
    if not isinstance(key, str):
        raise UsageError(f"unique_key must be a string, not {_kind(key)}")
    if not 1 <= len(key) <= MAX_ID_CHARS or _has_control(key):
        raise InvalidValue(f"invalid unique_key {key[:40]!r}: 1-{MAX_ID_CHARS} characters, "
                           "no control characters")
    return key


def check_mutex(name: object) -> str | None:
    """A mutex's name is text like an id: 1-200 characters without control characters."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise UsageError(f"mutex must be a string, not {_kind(name)}")
    if not 1 <= len(name) <= MAX_ID_CHARS or _has_control(name):
        raise InvalidValue(f"invalid mutex {name[:40]!r}: 1-{MAX_ID_CHARS} characters, "
                           "no control characters")
    return name


def check_gpus(value: object) -> int | None:
    """GPUs a job asks for: a whole number from 1 to MAX_GPUS (None: none). UsageError for
    what is no integer, InvalidValue for one out of range."""
    if value is None:
        return None
    return _int("gpus", value, 1, MAX_GPUS)


ON_DUPLICATE = ("keep", "replace")


def check_duplicates(fields: Mapping[str, Any], unique_key: str | None,
                     ) -> tuple[str, int | None]:
    """``on_duplicate`` (keep, replace) and ``debounce`` (a duration): what a duplicate of a
    unique key does. Both need a unique key; debounce sets the due time, so it does not go
    with run_at or delay."""
    on_duplicate = fields.get("on_duplicate")
    debounce = fields.get("debounce")
    if on_duplicate is not None and on_duplicate not in ON_DUPLICATE:
        raise UsageError(f"invalid on_duplicate {on_duplicate!r}: keep or replace")
    debounce_ms = None
    if debounce is not None:
        debounce_ms = max(1, int(round(_seconds("debounce", debounce) * 1000)))
        if fields.get("run_at") is not None or fields.get("delay") is not None:
            raise UsageError("give debounce or run_at/delay, not both")
    if unique_key is None and (debounce is not None or on_duplicate == "replace"):
        what = "debounce" if debounce is not None else "on_duplicate replace"
        raise InvalidValue(f"{what} needs a unique_key (--unique-key)")
    return on_duplicate or "keep", debounce_ms


def check_tags(tags: object) -> tuple[str, ...]:
    """A job's tags: an array of strings, each 1-100 characters without control
    characters, at most 20; repeats count once."""
    if tags is None:
        return ()
    if not isinstance(tags, list | tuple):
        raise UsageError(f"tags must be an array of strings, not {_kind(tags)}")
    for tag in tags:
        if not isinstance(tag, str):
            raise UsageError(f"a tag must be a string, not {_kind(tag)}")
        if not 1 <= len(tag) <= MAX_TAG_CHARS or _has_control(tag):
            raise InvalidValue(f"invalid tag {tag[:40]!r}: 1-{MAX_TAG_CHARS} characters, "
                               "no control characters")
    unique = tuple(dict.fromkeys(tags))
    if len(unique) > MAX_TAGS:
        raise InvalidValue(f"too many tags ({len(unique)}): at most {MAX_TAGS}")
    return unique


def check_held(value: object) -> bool:
    """`held` (`enqueue --hold`): true or false; null means not given."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise UsageError(f"held must be true or false, not {_kind(value)}")
    return value


def check_snapshot(value: object) -> bool:
    """`snapshot` (`enqueue --snapshot`): true or false; null means not given."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise UsageError(f"snapshot must be true or false, not {_kind(value)}")
    return value


def parse_limit(text: str) -> int | None:
    """``N`` or ``none``; a value that is no integer is a usage error (exit 2), a negative
    one is refused (exit 1) by the store's own check."""
    word = text.strip().lower()
    if word == "none":
        return None
    try:
        value = int(word)
    except ValueError:
        raise UsageError(f"invalid limit {text!r}: a whole number >= 0, or none") from None
    if value > INT32:  # said here, as typed: the store's check would see another number
        raise InvalidValue(f"invalid limit {word}: must be between 0 and {INT32} (or none)")
    return value


def parse_rate(text: str) -> Rate | None:
    """``N/DUR`` (``100/1m``, ``5/1s``) or ``none``; text of another form is a usage error
    (exit 2), a count or duration out of range is refused (exit 1)."""
    from queuectl.timeparse import MAX_DURATION, format_duration, parse_duration

    word = text.strip().lower()
    if word == "none":
        return None
    count, slash, window = word.partition("/")
    try:
        if not slash:
            raise ValueError(word)
        n = int(count)
        seconds = parse_duration(window)
    except (ValueError, UsageError):
        raise UsageError(f"invalid rate {text!r}: N/DURATION (100/1m, 5/1s), or none") from None
    window_ms = int(round(seconds * 1000))
    if not 1 <= n <= INT32 or not 1 <= window_ms <= int(MAX_DURATION * 1000):
        raise InvalidValue(f"invalid rate {text!r}: N from 1 to {INT32} jobs per a duration "
                           f"from 1ms to {format_duration(MAX_DURATION)}")
    return Rate(n, window_ms)


def check_command(command: object) -> str:
    if not isinstance(command, str):
        raise UsageError(f"command must be a string, not {_kind(command)}")
    if not command.strip():
        raise InvalidValue("command is empty")
    if "\0" in command:
        raise InvalidValue("command contains a NUL byte")
    size = len(command.encode("utf-8", "surrogateescape"))
    if size > MAX_COMMAND_BYTES:
        raise InvalidValue(f"command is too long ({size} bytes; at most {MAX_COMMAND_BYTES})")
    return command


def check_queue(queue: object) -> str:
    if not isinstance(queue, str):
        raise UsageError(f"queue must be a string, not {_kind(queue)}")
    if not _good_queue_name(queue):
        raise InvalidValue(f"invalid queue name {queue[:40]!r}: 1-{MAX_QUEUE_CHARS} characters, "
                           "no control characters")
    return queue


@lru_cache(maxsize=256)  # a bulk file names the same few queues again and again
def _good_queue_name(queue: str) -> bool:
    return 1 <= len(queue) <= MAX_QUEUE_CHARS and not _has_control(queue)


def _int(name: str, value: object, low: int, high: int = INT32) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{name} must be an integer, not {_kind(value)}")
    if not low <= value <= high:
        raise InvalidValue(f"invalid {name} {value}: must be between {low} and {high}")
    return value


def check_timeout(value: object) -> float:
    """An attempt timeout in seconds (a number, or a duration like "5m"): 0 means none;
    otherwise at least MIN_TIMEOUT, which a shell command can outlive. Raises InvalidValue
    naming the range (UsageError for a value that is no number or duration)."""
    seconds = _seconds("timeout", value)
    if 0 < seconds < MIN_TIMEOUT:
        from queuectl.timeparse import format_duration

        raise InvalidValue(f"invalid timeout {_shown(value)}: must be 0 (no limit) or "
                           f"between {format_duration(MIN_TIMEOUT)} and 100 years")
    return seconds


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _seconds(name: str, value: object) -> float:
    """A number of seconds, or a duration string like "5m"."""
    # timeparse only for a job that gives a duration: a plain enqueue never needs it.
    from queuectl.timeparse import MAX_DURATION, parse_duration

    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{name} must be a number of seconds or a duration, not {_kind(value)}")
    if value < 0 or value != value or value > MAX_DURATION:
        raise InvalidValue(f"invalid {name} {value}: must be a number >= 0, at most 100 years")
    return float(value)


def check_env(env: object) -> dict[str, str] | None:
    if env is None:
        return None
    if not isinstance(env, Mapping):
        raise UsageError(f"env must be an object of strings, not {_kind(env)}")
    out: dict[str, str] = {}
    for key, value in env.items():
        if not isinstance(value, str):
            raise UsageError(f"env value of {key!r} must be a string, not {_kind(value)}")
        if not re.fullmatch(ENV_NAME, key):
            raise InvalidValue(f"invalid env variable name {key!r}: use letters, digits and _, "
                               "not starting with a digit")
        if "\0" in value:
            raise InvalidValue(f"env variable {key!r} contains a NUL byte")
        size = _exec_bytes(f"{key}={value}")
        if size > MAX_COMMAND_BYTES:
            raise InvalidValue(f"env variable {key!r} is too long ({size} bytes; "
                               f"at most {MAX_COMMAND_BYTES})")
        out[key] = value
    return out or None


def _exec_bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def check_exec_size(command: str, env: Mapping[str, str] | None) -> None:
    """The command and the environment together must fit one exec (see MAX_EXEC_BYTES)."""
    total = _exec_bytes(command) + sum(_exec_bytes(f"{k}={v}") + 1 for k, v in (env or {}).items())
    if total > MAX_EXEC_BYTES:
        raise InvalidValue(f"command and env are too big for one exec ({total} bytes; "
                           f"at most {MAX_EXEC_BYTES})")


CWD_GONE = ("the current directory no longer exists: cd to one that does, "
            "or give the job an absolute --cwd")


def current_dir() -> str | None:
    """Where enqueue runs, which a job without a cwd runs in; None when that directory has
    been deleted under the shell (only such jobs need it: see check_cwd)."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        return None


def check_cwd(cwd: object, base: str | None) -> str:
    """The job's directory: ``cwd`` (None: not given) made absolute against ``base``, the
    directory enqueue runs in (None: deleted). Raises InvalidValue when a relative or
    missing cwd needs a base that is gone."""
    if cwd is None:
        if base is None:
            raise InvalidValue(CWD_GONE)
        return base
    if not isinstance(cwd, str):
        raise UsageError(f"cwd must be a string, not {_kind(cwd)}")
    if not cwd or "\0" in cwd:
        raise InvalidValue("invalid cwd")
    cwd = os.path.expanduser(cwd)
    if base is None and not os.path.isabs(cwd):
        raise InvalidValue(CWD_GONE)
    return _resolve_cwd(cwd, base or "/")


@lru_cache(maxsize=256)  # the same directory for most jobs of a bulk file
def _resolve_cwd(cwd: str, base: str) -> str:
    return os.path.normpath(os.path.join(base, cwd))


def check_after(after: object, name: str = "after") -> tuple[str, ...]:
    """The ids a job runs after: a JSON array of ids (a single id string is one), each
    checked as an id; repeats count once."""
    if after is None:
        return ()
    if isinstance(after, str):
        after = [after]
    if not isinstance(after, list | tuple):
        raise UsageError(f"{name} must be an array of job ids, not {_kind(after)}")
    return tuple(dict.fromkeys(check_id(job_id) for job_id in after))


AFTER_KINDS = ("after", "after_any", "after_failure")


def _check_dependencies(fields: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """after, after_any and after_failure; a job named in two of them is refused."""
    given = {name: check_after(fields.get(name), name) for name in AFTER_KINDS}
    seen: dict[str, str] = {}
    for name, ids in given.items():
        for job_id in ids:
            if job_id in seen:
                raise InvalidValue(f"job {job_id!r} is named in both {seen[job_id]} and {name}")
            seen[job_id] = name
    return given


def merge(defaults: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """A job's fields: flags (``defaults``) overridden by its JSON fields, except ``after``,
    where a job runs after both the flags' jobs and its own."""
    merged = {**defaults, **fields}
    for name in AFTER_KINDS:
        if defaults.get(name) is not None and fields.get(name) is not None:
            own = fields[name]
            merged[name] = [*defaults[name], *([own] if isinstance(own, str) else own)]
    return merged


def _run_at(fields: Mapping[str, Any]) -> datetime | None:
    run_at, delay = fields.get("run_at"), fields.get("delay")
    if run_at is not None and delay is not None:
        raise UsageError("give run_at or delay, not both")
    if run_at is not None:
        if not isinstance(run_at, str):
            raise UsageError(f"run_at must be an ISO 8601 string, not {_kind(run_at)}")
        from queuectl.timeparse import parse_instant

        return parse_instant(run_at)
    if delay is not None:
        seconds = _seconds("delay", delay)
        return datetime.fromtimestamp(time.time(), UTC) + timedelta(seconds=seconds)
    return None


def build_spec(
    fields: Mapping[str, Any], config: Config, base_cwd: str | None, *, utf8_checked: bool = False
) -> JobSpec:
    """A complete JobSpec from user fields; omitted limits take the current config.

    ``utf8_checked``: the caller has already made sure no text in ``fields`` holds a lone
    surrogate (see utf8_checked_batch)."""
    if not utf8_checked:
        for key, value in fields.items():
            _check_utf8(key, "a field name")
            _check_utf8(value, key)
    unknown = [key for key in fields if key not in _FIELD_SET]
    if unknown:
        raise UsageError(f"unknown job field {unknown[0]!r}; valid: {', '.join(FIELDS)}")
    if fields.get("command") is None:
        raise UsageError("a job needs a command")
    max_retries = fields.get("max_retries")
    timeout = fields.get("timeout")
    timeout_s = config.job_timeout if timeout is None else check_timeout(timeout)
    deps = _check_dependencies(fields)
    spec = JobSpec(
        command=check_command(fields["command"]),
        id=None if fields.get("id") is None else check_id(fields["id"]),
        max_retries=config.max_retries if max_retries is None
        else _int("max_retries", max_retries, 0, 1_000_000),
        # Only null means "not given": false, "" or [] are wrong values, refused below.
        priority=_int("priority", _given(fields, "priority", 0), -INT32, INT32),
        timeout=timeout_s or None,
        queue=check_queue(_given(fields, "queue", "default")),
        cwd=check_cwd(fields.get("cwd"), base_cwd),
        env=check_env(fields.get("env")),
        run_at=_run_at(fields),
        run_at_fixed=fields.get("run_at") is not None,
        after=deps["after"], after_any=deps["after_any"], after_failure=deps["after_failure"],
        unique_key=check_unique_key(fields.get("unique_key")),
        held=check_held(fields.get("held")),
        tags=check_tags(fields.get("tags")),
        mutex=check_mutex(fields.get("mutex")),
        gpus=check_gpus(fields.get("gpus")),
        **_exit_policies(fields),
    )
    if fields.get("snapshot") is not None and check_snapshot(fields["snapshot"]):
        from dataclasses import replace  # only for a job that asks for one

        spec = replace(spec, snapshot=True)
    if fields.get("on_duplicate") is not None or fields.get("debounce") is not None:
        from dataclasses import replace  # only for a job that gives them

        on_duplicate, debounce_ms = check_duplicates(fields, spec.unique_key)
        spec = replace(spec, on_duplicate=on_duplicate, debounce_ms=debounce_ms)
    if spec.env:  # a command alone is within MAX_COMMAND_BYTES, far below the whole budget
        check_exec_size(spec.command, spec.env)
    return spec


POLICIES = ("success_exit", "no_retry_exit", "deadline", "expires_at", "after_any", "after_failure")


def _exit_policies(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The policies given (only those: a plain job reads no more code): success_exit and
    no_retry_exit as given, deadline in seconds, expires_at as a time."""
    given = {name: fields[name] for name in POLICIES if fields.get(name) is not None}
    if not given:
        return {}
    from queuectl.exitcodes import parse_codes

    checked: dict[str, Any] = {name: parse_codes(name, given[name])
                               for name in ("success_exit", "no_retry_exit") if name in given}
    if "deadline" in given:
        checked["deadline"] = check_deadline(given["deadline"])
    if "expires_at" in given:
        checked["expires_at"] = check_expires(given["expires_at"])
    return checked


def check_deadline(value: object) -> float:
    """A deadline: seconds (or a duration like "2h") over all attempts, more than 0."""
    return _positive("deadline", value)


def _positive(name: str, value: object) -> float:
    """Seconds (a number or a duration) more than 0."""
    seconds = _seconds(name, value)
    if seconds <= 0:
        raise InvalidValue(f"invalid {name} {_shown(value)}: must be more than 0 seconds")
    return seconds


def check_expires(value: object) -> datetime:
    """When a job that has not started expires: a duration from now ("30m", or a number
    of seconds) or an ISO 8601 time, which must be to come."""
    from queuectl.errors import MalformedValue
    from queuectl.timeparse import parse_duration, parse_instant

    now = datetime.fromtimestamp(time.time(), UTC)
    if not isinstance(value, str):
        return now + timedelta(seconds=_positive("expires_at", value))
    try:
        seconds = parse_duration(value)
    except MalformedValue:
        when = parse_instant(value)
        if when <= now:
            raise InvalidValue(f"invalid expires_at {value!r}: that time has passed") from None
        return when
    if seconds <= 0:
        raise InvalidValue(f"invalid expires_at {value!r}: must be more than 0 seconds away")
    return now + timedelta(seconds=seconds)


def _check_utf8(value: object, name: str) -> None:
    """Lone surrogates (JSON "\\ud800", or bytes that are not UTF-8 on the command line) can
    be neither stored nor printed: refuse them here, before they poison every listing."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidValue(f"{name} is not valid UTF-8 text") from None
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_utf8(key, name)
            _check_utf8(item, name)


def utf8_checked_batch(text: str, defaults: Mapping[str, Any]) -> bool:
    """True when no entry of a jobs file, merged with ``defaults`` (flags), can hold a lone
    surrogate: the file was decoded as UTF-8 (which refuses them), so only a JSON escape
    can make one. Checking once spares a bulk file ~0.1 s of per-value checks; when this
    says False the checks run per entry and word the error as always."""
    if re.search(_SURROGATE_ESCAPE, text):
        return False
    try:
        for key, value in defaults.items():
            _check_utf8(key, "a field name")
            _check_utf8(value, key)
    except InvalidValue:
        return False
    return True


def _given(fields: Mapping[str, Any], name: str, default: object) -> Any:
    value = fields.get(name)
    return default if value is None else value


def check_defaults(defaults: Mapping[str, Any], config: Config, base_cwd: str | None) -> None:
    """Flags given with --file are arguments, not file content: a wrong one is refused as
    such (a malformed value is a usage error), once, before the file is read, and also when
    the file holds no job at all. (Whether an entry needs the current directory is the
    entry's to say: its own cwd may be absolute.)"""
    build_spec({"command": "true", "cwd": "/", **defaults}, config, base_cwd)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


# Python's json reads NaN and Infinity, which JSON (RFC 8259) does not have: a job holding
# them is not JSON. A decoder made once keeps bulk files as fast as json.loads.
_JSON = json.JSONDecoder(parse_constant=_refuse_constant)


def parse_object(text: str) -> dict[str, Any]:
    """The JSON-object argument of `enqueue`."""
    try:
        value = _JSON.decode(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        hint = "" if text.lstrip().startswith(("{", "[", '"')) else (
            " (a shell command goes in -c: queuectl enqueue -c 'echo hi')")
        raise UsageError(f"the job is not valid JSON: {getattr(exc, 'msg', exc)}{hint}") from None
    if not isinstance(value, dict):
        raise UsageError(f"the job must be a JSON object, not {_kind(value)}")
    return value


def parse_batch(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Entries of a jobs file, each labelled "line N" (JSON lines) or "entry N" (an array)."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = _JSON.decode(text)
        except (ValueError, RecursionError) as exc:
            line = getattr(exc, "lineno", 1)
            raise InvalidValue(f"line {line}: not valid JSON: {getattr(exc, 'msg', exc)}") from None
        if not isinstance(items, list):
            raise InvalidValue("line 1: expected a JSON array of job objects")
        return [(f"entry {n}", _object_at(f"entry {n}", item)) for n, item in enumerate(items, 1)]
    entries = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            item = _JSON.decode(line)
        except (ValueError, RecursionError) as exc:
            raise InvalidValue(f"line {n}: not valid JSON: {getattr(exc, 'msg', exc)}") from None
        entries.append((f"line {n}", _object_at(f"line {n}", item)))
    return entries


def _object_at(label: str, item: object) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InvalidValue(f"{label}: expected a JSON object, not {_kind(item)}")
    return item


def _kind(value: object) -> str:
    return {
        type(None): "null", bool: "a boolean", int: "a number", float: "a number",
        str: "a string", list: "an array", dict: "an object",
    }.get(type(value), type(value).__name__)
