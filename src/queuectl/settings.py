"""Configuration keys with defaults and validation; where the store lives."""

from __future__ import annotations

import contextlib
import os
import re
import sys

from queuectl.errors import InvalidValue, QueuectlError, UsageError
from queuectl.records import record

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Literal

    # "duration": seconds, also written with units as every duration flag takes them (30s,
    # 5m, 1h30m); stored as a plain number of seconds.
    Kind = Literal["int", "number", "duration"]

Number = int | float


@record(frozen=True)
class Key:
    """One config key: its default, kind, lower bound and help text."""

    name: str
    default: Number
    kind: Kind
    minimum: Number
    exclusive: bool  # True: value must be > minimum; False: >= minimum
    help: str
    # Values past this could not be stored or added to a timestamp (a lease of 1e300 s made
    # every later command fail): generous bounds, far beyond any real use.
    maximum: Number = 10**9
    # 0 is also valid, meaning "none" (no timeout, keep forever), below a minimum that
    # applies to every other value.
    zero_is_none: bool = False

    @property
    def valid(self) -> str:
        op = ">" if self.exclusive else ">="
        zero = "0 (off) or " if self.zero_is_none else ""
        if self.kind == "duration":
            from queuectl.timeparse import format_duration

            low, high = format_duration(self.minimum), format_duration(self.maximum)
            return (f"{zero}a duration {op} {low} and <= {high} "
                    "(seconds, or units like 30s, 5m, 1h30m)")
        what = "an integer" if self.kind == "int" else "a number"
        return f"{zero}{what} {op} {self.minimum} and <= {self.maximum}"

    def accepts(self, number: Number) -> bool:
        """Whether ``number`` (a finite number of this key's kind) is in the valid range."""
        if self.zero_is_none and number == 0:
            return True
        too_small = number <= self.minimum if self.exclusive else number < self.minimum
        return not too_small and number <= self.maximum

    def show(self, value: Number) -> str:
        """``value`` as people read it: a duration as 5m or 1h30m, a number as it is."""
        if self.kind != "duration":
            return str(value)
        from queuectl.timeparse import format_duration

        return format_duration(value)


YEAR = 365 * 86400  # seconds
# The shortest attempt timeout or retry wait that can mean anything: starting a shell
# command alone takes milliseconds, and a "timeout" of 1e-9 s kills every attempt at birth.
MIN_TIMEOUT = 0.1  # seconds
# Workers heartbeat every lease-timeout / 3 (at most every 5 s): a lease under a second
# has them write the store many times a second, and one of 1e-9 s had every pool declare
# its own workers lost before they could claim anything.
MIN_LEASE = 1.0  # seconds
# Finished jobs must outlive the `wait` or `run` that reads their outcome.
MIN_RETENTION = 1.0  # seconds

KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        Key("max-retries", 3, "int", 0, False, "retries after the first attempt", 1_000_000),
        Key("backoff-base", 2, "number", 1, False, "retry waits base ** attempts seconds", 1000),
        Key("backoff-max", 3600, "duration", MIN_TIMEOUT, False, "cap on one retry wait",
            YEAR),
        Key("job-timeout", 0, "duration", MIN_TIMEOUT, False,
            "default attempt timeout (0: none)", YEAR, zero_is_none=True),
        Key("lease-timeout", 30, "duration", MIN_LEASE, False,
            "silence after which a worker is lost", YEAR),
        Key("max-log-bytes", 1048576, "int", 0, True, "output kept per attempt (the tail)",
            256 * 1024 * 1024),
        Key("retention", 0, "duration", MIN_RETENTION, False,
            "finished jobs are deleted this long after they end (0: kept forever)",
            100 * YEAR, zero_is_none=True),
        Key("max-snoozes", 100, "int", 0, False, "times one job may `queuectl snooze`",
            1_000_000),
        Key("max-snapshot-bytes", 100 * 1024 * 1024, "int", 0, True,
            "largest code snapshot `enqueue --snapshot` keeps", 4 * 1024**3),
    )
}


def canonical_key(name: str) -> str:
    """`max_retries` and `MAX-RETRIES` both name `max-retries`; unknown keys are refused."""
    key = name.strip().lower().replace("_", "-")
    if key not in KEYS:
        raise InvalidValue(f"unknown config key {name!r}; valid keys: {', '.join(KEYS)}")
    return key


def parse_value(key: str, raw: str | Number) -> Number:
    """Validate a value for ``key`` (canonical); raise InvalidValue naming the range.

    A duration key takes what parse_duration reads (5m, 1h30m, or plain seconds) and gives
    seconds. Any value that is refused, malformed or not, is an InvalidValue: it is data for
    a named key, not a command-line argument."""
    spec = KEYS[key]
    text = str(raw).strip()
    number = _read(spec.kind, text)
    if number is None or number != number or number in (float("inf"), -float("inf")):
        raise InvalidValue(f"invalid value {text!r} for {key}: must be {spec.valid}")
    if not spec.accepts(number):
        raise InvalidValue(f"invalid value {text!r} for {key}: must be {spec.valid}")
    if isinstance(number, float) and number.is_integer():
        number = int(number)  # show 2, not 2.0
    return number


def _read(kind: Kind, text: str) -> Number | None:
    """``text`` as a number of ``kind``, or None when it is not one."""
    try:
        if kind == "duration":
            from queuectl.timeparse import parse_duration

            return parse_duration(text)
        return int(text) if kind == "int" else float(text)
    except (ValueError, QueuectlError):  # a negative duration too: the range says why
        return None


@record(frozen=True)
class Config:
    """A snapshot of the effective configuration (defaults overlaid with stored values)."""

    max_retries: int
    backoff_base: float
    backoff_max: float
    job_timeout: float
    lease_timeout: float
    max_log_bytes: int
    retention: float
    max_snoozes: int
    max_snapshot_bytes: int

    @classmethod
    def from_stored(cls, stored: dict[str, str]) -> Config:
        values: dict[str, Number] = {name: key.default for name, key in KEYS.items()}
        for name, raw in stored.items():
            if name in KEYS:
                # A value this version cannot read (written by another one): keep the default.
                with contextlib.suppress(InvalidValue):
                    values[name] = parse_value(name, raw)
        return cls(**{name.replace("-", "_"): value for name, value in values.items()})  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, Number]:
        return {name: getattr(self, name.replace("-", "_")) for name in KEYS}


# --- where the store lives -------------------------------------------------------------

ENV_DB = "QUEUECTL_DB"
# What a worker gives each job's environment so that `queuectl snooze` finds its attempt:
# the job and attempt (QUEUECTL_JOB_ID, QUEUECTL_ATTEMPT), the store (QUEUECTL_DB), and a
# file of the worker's own that the snooze's duration is written to.
SNOOZE_FILE_ENV = "QUEUECTL_SNOOZE_FILE"
ENV_HOME = "QUEUECTL_HOME"


def make_private_dirs(folder: str) -> None:
    """Create ``folder`` and every missing parent with mode 0700: os.makedirs gives its mode
    to the last folder only, the parents it creates get the umask's (often 0755)."""
    missing = []
    while folder and not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if not os.path.isdir(path):
                raise
            # Another process made it first: fine, it made it 0700 too.


def data_dir() -> str:
    """$QUEUECTL_HOME, else the platform's user data dir (~/.local/share/queuectl)."""
    home = os.environ.get(ENV_HOME)
    if home:
        return os.path.abspath(os.path.expanduser(home))
    return _xdg_data_dir() or _platform_data_dir()


def _xdg_data_dir() -> str | None:
    """The XDG Base Directory rule for the user data dir, where it is plain: on Linux, with
    $XDG_DATA_HOME absolute or unset and $HOME absolute. None otherwise: platformdirs then
    decides (a relative $XDG_DATA_HOME or $HOME, other platforms). Importing platformdirs
    (it brings pathlib, tempfile and shutil) was about a fifth of an enqueue on the default
    store; a unit test keeps the two answers equal."""
    if sys.platform != "linux":
        return None
    xdg = os.environ.get("XDG_DATA_HOME", "")
    if xdg.startswith("/"):
        return os.path.join(xdg, "queuectl")
    home = os.environ.get("HOME", "")
    if xdg or not home.startswith("/"):
        return None
    return os.path.join(home, ".local", "share", "queuectl")


def _platform_data_dir() -> str:
    import platformdirs  # only when actually needed

    return platformdirs.user_data_dir("queuectl", appauthor=False)


def resolve_db_url(
    cli_value: str | None, getenv: Callable[[str], str | None] = os.environ.get,
    *, given_as: str = "--db",
) -> str:
    """The store URL from --db (``given_as`` names it in messages), then QUEUECTL_DB, then
    the default SQLite file.

    Raises UsageError when the value given, or QUEUECTL_DB, is set but empty: a script's
    `--db "$UNSET"` must not quietly mean the default store."""
    return store_choice(cli_value, getenv, given_as=given_as)[0]


def store_choice(
    cli_value: str | None, getenv: Callable[[str], str | None] = os.environ.get,
    *, given_as: str = "--db",
) -> tuple[str, bool]:
    """(the store URL, whether it was named by ``cli_value`` or QUEUECTL_DB rather than
    being the default store). Only a named store must exist for a command that reads.
    Raises UsageError for an empty value, as resolve_db_url."""
    if cli_value is not None:
        if not cli_value.strip():
            raise UsageError(f"{given_as} is empty: name a store (a path, sqlite:///path or "
                             "postgresql://...), or leave it out for the default store")
        return cli_value, True
    value = getenv(ENV_DB)
    if value is not None:
        if not value.strip():
            raise UsageError(f"{ENV_DB} is set but empty: name a store, or unset it for "
                             "the default store")
        return value, True
    return os.path.join(data_dir(), "queuectl.db"), False


def is_postgres(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database (a URL scheme is case-insensitive)."""
    return url[:22].lower().startswith(("postgresql://", "postgres://",
                                        "postgresql+psycopg://"))


def sqlite_path(url: str) -> str:
    """A filesystem path from a plain path or sqlite:///abs/path.db."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite://") :]
    if url.startswith("sqlite:"):
        raise InvalidValue(f"invalid SQLite URL {url!r}: use sqlite:///absolute/path.db")
    # Each pattern only when the text can match it: compiling them cost every command more
    # than the rest of this function (a plain path has neither "://" nor "=").
    if "://" in url and re.match(r"^[a-z][a-z0-9+.-]*://", url, re.IGNORECASE):
        raise InvalidValue(f"unsupported store URL scheme in {redact_url(url)!r}")
    if "=" in url and re.match(_CONNINFO, url, re.IGNORECASE):
        # Not a file to create: a libpq "key=value" string, which may hold a password, so
        # it is not repeated back.
        raise InvalidValue("a PostgreSQL store is named by a URL: postgresql://USER@HOST:PORT/"
                           "DBNAME (the key=value form is not taken)")
    return os.path.abspath(os.path.expanduser(url))


# libpq's keyword form, "host=db dbname=q password=…": one of its keywords, then "=".
_CONNINFO = (r"\s*(host|hostaddr|port|dbname|user|password|sslmode|service|"
             r"options|application_name|connect_timeout)\s*=")  # re.IGNORECASE


def same_store(a: str, b: str) -> bool:
    """Whether two --db values name one store: the same text, or one SQLite file however
    written (a relative path, an absolute one, sqlite:///path)."""
    if a == b:
        return True
    if is_postgres(a) or is_postgres(b):
        return False
    try:
        return os.path.realpath(sqlite_path(a)) == os.path.realpath(sqlite_path(b))
    except InvalidValue:
        return False


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***, fit for messages and pages."""
    from urllib.parse import urlsplit, urlunsplit  # only a message or a page needs it

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable store URL>"
    if parts.password is None:
        return re.sub(r"password=[^&\s]*", "password=***", url)
    netloc = parts.netloc.rsplit("@", 1)
    user = parts.username or ""
    host = netloc[1] if len(netloc) == 2 else ""
    redacted = urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    return re.sub(r"password=[^&\s]*", "password=***", redacted)
