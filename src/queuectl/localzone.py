"""This machine's time zone by its IANA name, the zone the C library reads local times in
(and so the zone `enqueue --run-at` reads a time without an offset in): $TZ when it is set,
else /etc/localtime. A schedule stores its zone by name, so `cron add` asks here.

The C library takes $TZ as a zone name (``Asia/Tokyo``), a path to a zone file
(``/usr/share/zoneinfo/Asia/Tokyo``), either with a leading ``:``, or a POSIX rule
(``JST-9``); an empty $TZ means UTC. /etc/localtime is usually a symlink into the zone files
(systemd's timedatectl, Debian, Alpine); no /etc/localtime means UTC. A zone file's name is
its path after ``zoneinfo/``.

Where no name can be given for the zone the C library uses (a POSIX rule, a copied zone
file that no name matches) InvalidValue says so and asks for ``--tz``: storing any other
zone would move every tick. tzlocal does much the same, but it quietly falls back to
/etc/localtime when $TZ is set to something it cannot name, which is this very fault.
"""

from __future__ import annotations

import os
import zoneinfo

from queuectl.errors import InvalidValue

LOCALTIME = "/etc/localtime"  # the C library's zone when $TZ is unset
ZONE_NAME_FILE = "/etc/timezone"  # Debian's copy of the name, for a copied /etc/localtime
_ZONE_DIR = "zoneinfo/"  # a zone file's name is its path below a directory of this name
_ASK = "give --tz (e.g. --tz Europe/Berlin)"
# Files among the zones that are no zone of their own: a link to the machine's zone, and
# the rules POSIX TZ strings borrow. Their name means another zone on every other host.
_NOT_ZONES = frozenset({"localtime", "posixrules"})


def local_zone_name(localtime: str = LOCALTIME, name_file: str = ZONE_NAME_FILE) -> str:
    """The IANA name of the zone local times are read in: from $TZ (``Asia/Tokyo``,
    ``:Asia/Tokyo``, ``/usr/share/zoneinfo/Asia/Tokyo``, ``:/usr/...``; empty: ``UTC``),
    else from ``localtime`` (a symlink into the zone files; a copy whose bytes match the
    zone ``name_file`` names; absent: ``UTC``). Raises InvalidValue when the zone in use
    has no name this way (a POSIX rule in $TZ, an unknown name, an unnamed copy)."""
    tz = os.environ.get("TZ")
    if tz is None:
        return _system_zone(localtime, name_file)
    spec = tz.removeprefix(":")
    if not spec:
        return "UTC"  # what the C library makes of an empty TZ
    name = _name_of_file(spec) if os.path.isabs(spec) else _known(spec)
    if name is None:
        raise InvalidValue(f"TZ={tz!r} is not an IANA zone name: {_ASK}")
    return name


def _system_zone(localtime: str, name_file: str) -> str:
    if os.path.islink(localtime):
        target = os.path.join(os.path.dirname(localtime), os.readlink(localtime))
        name = _name_of_file(target)
    elif not os.path.exists(localtime):
        return "UTC"  # what the C library uses without one
    else:
        name = _named_copy(localtime, name_file)
    if name is None:
        raise InvalidValue(f"this machine's time zone ({localtime}) has no IANA name: {_ASK}")
    return name


def _name_of_file(path: str) -> str | None:
    """The zone name of a zone file's path: after its last ``zoneinfo/`` (the link itself
    first, then where it leads: a link between zone files names the zone chosen)."""
    for candidate in (os.path.normpath(path), os.path.realpath(path)):
        _, found, key = candidate.rpartition(_ZONE_DIR)
        if found and (name := _known(key.removeprefix("posix/"))) is not None:
            return name
    return None


def _named_copy(localtime: str, name_file: str) -> str | None:
    """The name in ``name_file`` if its zone file holds the same bytes as ``localtime`` (a
    stale name file, left after the zone was changed, names nothing)."""
    try:
        with open(name_file, encoding="utf-8") as f:
            name = _known(f.read().strip())
        with open(localtime, "rb") as f:
            data = f.read()
    except (OSError, UnicodeDecodeError):
        return None
    if name is None:
        return None
    for directory in zoneinfo.TZPATH:
        try:
            with open(os.path.join(directory, name), "rb") as f:
                if f.read() == data:
                    return name
        except OSError:
            continue
    return None


def _known(name: str) -> str | None:
    """``name`` if it is a zone zoneinfo can load (the system's files or tzdata's) and
    means the same zone on every host: ``posix/`` is dropped (the same zones), and the
    ``right/`` zones (which count leap seconds, 27 s apart from the others) and the files
    that are no zone (``localtime``) have no such name."""
    name = name.removeprefix("posix/")
    if (not name or name != name.strip() or "\0" in name or name in _NOT_ZONES
            or name.startswith("right/")):
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return name
