import pytest

from queuectl.errors import InvalidValue, UsageError
from queuectl.settings import (
    KEYS,
    YEAR,
    Config,
    canonical_key,
    is_postgres,
    parse_value,
    redact_url,
    sqlite_path,
)


def test_keys_accept_dash_or_underscore() -> None:
    assert canonical_key("max_retries") == canonical_key("max-retries") == "max-retries"


def test_unknown_key_names_the_valid_ones() -> None:
    with pytest.raises(InvalidValue, match="valid keys: max-retries, backoff-base"):
        canonical_key("retries")


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [("max-retries", "0", 0), ("backoff-base", "1", 1), ("backoff-base", "1.5", 1.5),
     ("backoff-max", "0.5", 0.5), ("job-timeout", "0", 0), ("lease-timeout", "2", 2),
     ("max-log-bytes", "1", 1), ("job-timeout", "5m", 300), ("lease-timeout", "1h30m", 5400),
     ("backoff-max", "250ms", 0.25), ("job-timeout", "0s", 0), ("backoff-max", "365d", YEAR),
     ("job-timeout", 600, 600), ("lease-timeout", 2.5, 2.5)],
)
def test_valid_values(key: str, raw: str, value: float) -> None:
    assert parse_value(key, raw) == value


@pytest.mark.parametrize(
    ("key", "raw"),
    [("max-retries", "-1"), ("max-retries", "1.5"), ("max-retries", "x"),
     ("backoff-base", "0.9"), ("backoff-max", "0"), ("job-timeout", "-1"),
     ("lease-timeout", "0"), ("max-log-bytes", "0"), ("backoff-base", "nan"),
     ("backoff-max", "inf"), ("job-timeout", "5x"), ("job-timeout", "-5m"),
     ("lease-timeout", "0s"), ("backoff-max", "366d"), ("job-timeout", "nan"),
     ("max-retries", "5m")],
)
def test_invalid_values_name_the_range(key: str, raw: str) -> None:
    with pytest.raises(InvalidValue, match=f"for {key}: must be"):
        parse_value(key, raw)


def test_a_malformed_duration_is_an_invalid_value_naming_the_syntax() -> None:
    """For `config set` every refused value is exit 1, malformed or out of range."""
    with pytest.raises(InvalidValue) as info:
        parse_value("job-timeout", "soon")
    assert not isinstance(info.value, UsageError)
    assert ("must be 0 (off) or a duration >= 0.1s and <= 365d (seconds, or units like 30s"
            in str(info.value))


def test_duration_keys_are_exactly_the_keys_in_seconds() -> None:
    assert [k.name for k in KEYS.values() if k.kind == "duration"] == [
        "backoff-max", "job-timeout", "lease-timeout", "retention"]


def test_values_are_shown_as_typed_and_read_back() -> None:
    assert [KEYS["job-timeout"].show(v) for v in (300, 0, 5400, 0.25)] == ["5m", "0s", "1h30m",
                                                                          "0.25s"]
    assert KEYS["max-log-bytes"].show(1048576) == "1048576"
    for key in KEYS.values():
        assert parse_value(key.name, key.show(key.default)) == key.default


def test_stored_durations_are_read_as_seconds() -> None:
    """Stores keep plain numbers of seconds (older versions wrote nothing else); a duration
    with units stored by any writer is read too."""
    cfg = Config.from_stored({"job-timeout": "300", "lease-timeout": "1m", "backoff-max": "2.5"})
    assert (cfg.job_timeout, cfg.lease_timeout, cfg.backoff_max) == (300, 60, 2.5)
    assert Config.from_stored({"lease-timeout": "soon"}).lease_timeout == 30  # unreadable


def test_config_defaults_and_overrides() -> None:
    cfg = Config.from_stored({"max-retries": "5", "backoff-base": "bogus"})
    assert cfg.max_retries == 5
    assert cfg.backoff_base == 2  # an unreadable stored value falls back to the default
    assert cfg.as_dict()["lease-timeout"] == 30


def test_redact_url_hides_passwords() -> None:
    assert redact_url("postgresql://bob:hunter2@db:5432/q") == "postgresql://bob:***@db:5432/q"
    assert "hunter2" not in redact_url("postgresql://db/q?password=hunter2")
    assert redact_url("postgresql://bob@db/q") == "postgresql://bob@db/q"


def test_sqlite_paths() -> None:
    assert sqlite_path("sqlite:///tmp/q.db") == "/tmp/q.db"
    assert sqlite_path("/tmp/q.db") == "/tmp/q.db"
    with pytest.raises(InvalidValue):
        sqlite_path("mysql://x/y")


@pytest.mark.parametrize("url", ["POSTGRESQL://u@h/d", "Postgres://u@h/d",
                                 "postgresql+PSYCOPG://u@h/d"])
def test_a_postgres_scheme_in_any_case_is_postgres(url: str) -> None:
    from queuectl.storage.pgconn import libpq_url

    assert is_postgres(url)
    assert libpq_url(url) in ("postgresql://u@h/d", "postgres://u@h/d")  # as libpq takes them


@pytest.mark.parametrize("url", ["host=127.0.0.1 dbname=q password=s3cret",
                                 " dbname=q user=x", "PASSWORD=s3cret host=h"])
def test_libpq_keyword_strings_are_refused_without_repeating_them(url: str) -> None:
    """Not a SQLite file to create beside the user (named after their password)."""
    with pytest.raises(InvalidValue, match="named by a URL") as info:
        sqlite_path(url)
    assert "s3cret" not in str(info.value) and "dbname" not in str(info.value)


def test_unknown_schemes_in_any_case_are_refused() -> None:
    with pytest.raises(InvalidValue, match="unsupported store URL scheme"):
        sqlite_path("MySQL://a:b@c/d")


@pytest.mark.parametrize("xdg", [None, "", "/data/xdg", "/data/xdg/", "relative/xdg", "  "])
@pytest.mark.parametrize("home", [None, "/home/u", "/home/u/", "/", "relative-home"])
def test_the_default_data_dir_is_platformdirs_answer(
    xdg: str | None, home: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The XDG rule queuectl applies itself (without importing platformdirs) gives what
    platformdirs gives, or leaves the case to it."""
    import platformdirs

    from queuectl.settings import data_dir

    monkeypatch.delenv("QUEUECTL_HOME", raising=False)
    for name, value in (("XDG_DATA_HOME", xdg), ("HOME", home)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert data_dir() == platformdirs.user_data_dir("queuectl", appauthor=False)
