"""The machine's zone by name: every form of $TZ the C library takes, and /etc/localtime as a
symlink, a copy or missing. Each name found is checked against the C library's own reading
(what `enqueue --run-at` uses), so `cron add` stores the zone a local time is read in."""

from __future__ import annotations

import importlib.resources
import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from queuectl.errors import InvalidValue
from queuectl.localzone import local_zone_name

ZONES = Path("/usr/share/zoneinfo")
needs_zone_files = pytest.mark.skipif(not (ZONES / "Asia" / "Tokyo").is_file(),
                                      reason="no system zone files")
# Instants in winter and summer: a zone with daylight saving shows both of its offsets.
INSTANTS = [datetime(2026, 1, 15, 12, tzinfo=UTC), datetime(2026, 7, 15, 12, tzinfo=UTC)]

TZ_VALUES = [
    ("Asia/Tokyo", "Asia/Tokyo"),
    (":Asia/Tokyo", "Asia/Tokyo"),
    ("Europe/Berlin", "Europe/Berlin"),
    ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"),
    ("UTC", "UTC"),
    ("", "UTC"),  # the C library reads an empty TZ as UTC
    (":", "UTC"),
    pytest.param(":/usr/share/zoneinfo/Asia/Tokyo", "Asia/Tokyo", marks=needs_zone_files),
    pytest.param("/usr/share/zoneinfo/Asia/Tokyo", "Asia/Tokyo", marks=needs_zone_files),
    pytest.param("/usr/share/zoneinfo/Europe/Berlin", "Europe/Berlin", marks=needs_zone_files),
    pytest.param("/usr/share/zoneinfo/America/Argentina/Buenos_Aires",
                 "America/Argentina/Buenos_Aires", marks=needs_zone_files),
    pytest.param("/usr/share/zoneinfo//Asia/../Asia/Tokyo", "Asia/Tokyo",
                 marks=needs_zone_files),
]
REFUSED_TZ = [
    "JST-9",  # a POSIX rule: a fixed offset the C library honours, with no zone name
    "right/Asia/Tokyo",  # leap seconds counted: 27 s from Asia/Tokyo, which --tz would store
    pytest.param("/usr/share/zoneinfo/right/Asia/Tokyo", marks=needs_zone_files),
    "CET-1CEST,M3.5.0,M10.5.0/3",
    "Nowhere/Land",
    "/usr/share/zoneinfo/Nowhere/Land",
    "/etc/hostname",  # a file, but no zone's
    " Asia/Tokyo",
]


@pytest.fixture
def tz_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set TZ through this; the C library's zone is restored afterwards."""
    yield monkeypatch
    monkeypatch.undo()
    time.tzset()


def same_as_c_library(name: str) -> None:
    """The zone ``name`` gives every instant the offset the C library gives it under the
    TZ now set."""
    time.tzset()
    for instant in INSTANTS:
        assert instant.astimezone().utcoffset() == instant.astimezone(ZoneInfo(name)).utcoffset()


@pytest.mark.parametrize(("tz", "name"), TZ_VALUES)
def test_tz_names_the_zone_the_c_library_reads(tz: str, name: str,
                                               tz_env: pytest.MonkeyPatch) -> None:
    tz_env.setenv("TZ", tz)
    assert local_zone_name() == name
    same_as_c_library(name)


@pytest.mark.parametrize("tz", ["posix/Asia/Tokyo", ":posix/Asia/Tokyo",
                                pytest.param("/usr/share/zoneinfo/posix/Asia/Tokyo",
                                             marks=needs_zone_files)])
def test_a_posix_zone_is_stored_by_its_portable_name(tz: str,
                                                     tz_env: pytest.MonkeyPatch) -> None:
    tz_env.setenv("TZ", tz)
    assert local_zone_name() == "Asia/Tokyo"


@pytest.mark.skipif(not os.path.islink("/usr/share/zoneinfo/localtime")
                    or not os.path.islink("/etc/localtime"),
                    reason="no zoneinfo/localtime link to a linked /etc/localtime")
def test_the_localtime_link_among_the_zones_names_the_machines_zone(
        tz_env: pytest.MonkeyPatch) -> None:
    """Stored as "localtime", it would mean each host's own zone wherever the schedule runs."""
    tz_env.delenv("TZ", raising=False)
    machine = local_zone_name()
    tz_env.setenv("TZ", ":/usr/share/zoneinfo/localtime")
    assert local_zone_name() == machine != "localtime"


@pytest.mark.parametrize("tz", REFUSED_TZ)
def test_a_tz_with_no_zone_name_is_refused_asking_for_tz(tz: str,
                                                          tz_env: pytest.MonkeyPatch) -> None:
    tz_env.setenv("TZ", tz)
    with pytest.raises(InvalidValue, match=r"^TZ=.* is not an IANA zone name: give --tz"):
        local_zone_name()


def zone_tree(tmp_path: Path) -> Path:
    """A copy of two zone files under tmp/share/zoneinfo, and tmp/etc for /etc."""
    tree = tmp_path / "share" / "zoneinfo"
    (tree / "Asia").mkdir(parents=True)
    (tree / "Europe").mkdir()
    for name in ("Asia/Tokyo", "Europe/Berlin"):
        (tree / name).write_bytes(_zone_bytes(name))
    (tree / "Japan").symlink_to("Asia/Tokyo")
    (tmp_path / "etc").mkdir()
    return tree


def _zone_bytes(name: str) -> bytes:
    """A zone file from the tzdata package (a dependency): the same on every machine."""
    package, _, leaf = f"tzdata.zoneinfo.{name}".replace("/", ".").rpartition(".")
    return importlib.resources.files(package).joinpath(leaf).read_bytes()


@pytest.mark.parametrize(("link", "name"), [
    ("{tree}/Asia/Tokyo", "Asia/Tokyo"),
    ("../share/zoneinfo/Europe/Berlin", "Europe/Berlin"),  # relative to /etc
    ("{tree}/Japan", "Japan"),  # a link to a link: the name chosen, not where it leads
    ("{tree}/posix/Asia/Tokyo", "Asia/Tokyo"),
])
def test_etc_localtime_symlink_names_the_zone(link: str, name: str, tmp_path: Path,
                                              tz_env: pytest.MonkeyPatch) -> None:
    tree = zone_tree(tmp_path)
    (tree / "posix").mkdir()
    (tree / "posix" / "Asia").symlink_to(tree / "Asia")
    tz_env.delenv("TZ", raising=False)
    localtime = tmp_path / "etc" / "localtime"
    localtime.symlink_to(link.format(tree=tree))
    assert local_zone_name(str(localtime), str(tmp_path / "etc" / "timezone")) == name


def test_etc_localtime_absent_is_utc(tmp_path: Path, tz_env: pytest.MonkeyPatch) -> None:
    tz_env.delenv("TZ", raising=False)
    assert local_zone_name(str(tmp_path / "localtime"), str(tmp_path / "timezone")) == "UTC"


@needs_zone_files
def test_a_copied_etc_localtime_is_named_by_etc_timezone_only_when_they_agree(
    tmp_path: Path, tz_env: pytest.MonkeyPatch
) -> None:
    tz_env.delenv("TZ", raising=False)
    localtime, names = tmp_path / "localtime", tmp_path / "timezone"
    shutil.copyfile(ZONES / "Asia" / "Tokyo", localtime)
    names.write_text("Asia/Tokyo\n")
    assert local_zone_name(str(localtime), str(names)) == "Asia/Tokyo"
    names.write_text("Europe/Berlin\n")  # stale: the zone was changed since
    with pytest.raises(InvalidValue, match=r"has no IANA name: give --tz"):
        local_zone_name(str(localtime), str(names))
    os.unlink(names)
    with pytest.raises(InvalidValue, match=r"has no IANA name: give --tz"):
        local_zone_name(str(localtime), str(names))


def test_tz_wins_over_etc_localtime(tmp_path: Path, tz_env: pytest.MonkeyPatch) -> None:
    tree = zone_tree(tmp_path)
    localtime = tmp_path / "etc" / "localtime"
    localtime.symlink_to(tree / "Europe" / "Berlin")
    tz_env.setenv("TZ", ":Asia/Tokyo")
    assert local_zone_name(str(localtime)) == "Asia/Tokyo"
