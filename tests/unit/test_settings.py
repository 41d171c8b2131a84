import pytest

from queuectl.errors import InvalidValue
from queuectl.settings import Config, canonical_key, parse_value, redact_url, sqlite_path


def test_keys_accept_dash_or_underscore() -> None:
    assert canonical_key("max_retries") == canonical_key("max-retries") == "max-retries"


def test_unknown_key_names_the_valid_ones() -> None:
    with pytest.raises(InvalidValue, match="valid keys: max-retries, backoff-base"):
        canonical_key("retries")


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [("max-retries", "0", 0), ("backoff-base", "1", 1), ("backoff-base", "1.5", 1.5),
     ("backoff-max", "0.5", 0.5), ("job-timeout", "0", 0), ("lease-timeout", "2", 2),
     ("max-log-bytes", "1", 1)],
)  # fmt: skip
def test_valid_values(key: str, raw: str, value: float) -> None:
    assert parse_value(key, raw) == value


@pytest.mark.parametrize(
    ("key", "raw"),
    [("max-retries", "-1"), ("max-retries", "1.5"), ("max-retries", "x"),
     ("backoff-base", "0.9"), ("backoff-max", "0"), ("job-timeout", "-1"),
     ("lease-timeout", "0"), ("max-log-bytes", "0"), ("backoff-base", "nan"),
     ("backoff-max", "inf")],
)  # fmt: skip
def test_invalid_values_name_the_range(key: str, raw: str) -> None:
    with pytest.raises(InvalidValue, match=f"for {key}: must be"):
        parse_value(key, raw)


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
