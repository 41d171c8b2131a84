from datetime import UTC, datetime

import pytest

from queuectl.errors import InvalidValue, UsageError
from queuectl.settings import Config
from queuectl.specs import MAX_COMMAND_BYTES, build_spec, parse_batch, parse_object

CFG = Config.from_stored({"max-retries": "4", "job-timeout": "60"})


def test_defaults_come_from_config_and_cwd() -> None:
    spec = build_spec({"command": "true"}, CFG, "/srv")
    assert (spec.max_retries, spec.timeout, spec.cwd, spec.queue) == (4, 60, "/srv", "default")


def test_explicit_fields_win() -> None:
    spec = build_spec({"command": "true", "max_retries": 0, "timeout": "5m", "priority": -3,
                       "cwd": "sub", "env": {"A": "1"}, "run_at": "2030-01-01T00:00:00Z"},
                      CFG, "/srv")
    assert (spec.max_retries, spec.timeout, spec.priority) == (0, 300, -3)
    assert spec.cwd == "/srv/sub" and spec.env == {"A": "1"}
    assert spec.run_at == datetime(2030, 1, 1, tzinfo=UTC)


def test_timeout_zero_means_none() -> None:
    assert build_spec({"command": "true", "timeout": 0}, CFG, "/").timeout is None


@pytest.mark.parametrize(
    "fields",
    [{}, {"command": 5}, {"command": "x", "priority": "high"}, {"command": "x", "bogus": 1},
     {"command": "x", "max_retries": True}, {"command": "x", "env": ["A=1"]},
     {"command": "x", "delay": "soon"}, {"command": "x", "timeout": "5x"},
     {"command": "x", "run_at": "tomorrow"},
     {"command": "x", "delay": "5s", "run_at": "2030-01-01"}],
)
def test_shape_errors_are_usage_errors(fields: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        build_spec(fields, CFG, "/")


@pytest.mark.parametrize(
    "fields",
    [{"command": "  "}, {"command": "x", "max_retries": -1}, {"command": "x", "timeout": -1},
     {"command": "x", "id": ""}, {"command": "x", "id": "a\nb"}, {"command": "x", "id": "x" * 201},
     {"command": "x", "delay": "-5s"}, {"command": "x", "run_at": "9999-12-31T23:59:59-01:00"},
     {"command": "a\0b"}, {"command": "x" * (MAX_COMMAND_BYTES + 1)}],
)
def test_value_errors_are_invalid_values(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidValue):
        build_spec(fields, CFG, "/")


def test_ids_with_quotes_and_unicode_are_data() -> None:
    for job_id in ["it's", 'a"b', "x'; DROP TABLE jobs; --", "日本語 ✓", "with space"]:
        assert build_spec({"command": "x", "id": job_id}, CFG, "/").id == job_id


def test_parse_object() -> None:
    assert parse_object('{"command": "x"}') == {"command": "x"}
    with pytest.raises(UsageError, match="not valid JSON"):
        parse_object("{command: x}")
    with pytest.raises(UsageError, match="JSON object"):
        parse_object("[1]")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(constant: str) -> None:
    """Python reads them; JSON (RFC 8259) has no such values: a malformed job, or line."""
    with pytest.raises(UsageError, match=f"not valid JSON: {constant} is not a JSON value"):
        parse_object(f'{{"command": "x", "timeout": {constant}}}')
    with pytest.raises(InvalidValue, match="line 2: not valid JSON"):
        parse_batch(f'{{"command": "x"}}\n{{"command": "x", "delay": {constant}}}\n')
    assert parse_object('{"command": "x", "timeout": 1e400}')["timeout"] == float("inf")


def test_parse_batch_lines_and_array() -> None:
    lines = parse_batch('{"command": "a"}\n\n# note\n{"command": "b"}\n')
    assert [label for label, _ in lines] == ["line 1", "line 4"]
    array = parse_batch('[{"command": "a"}, {"command": "b"}]')
    assert [label for label, _ in array] == ["entry 1", "entry 2"]
    with pytest.raises(InvalidValue, match="line 2"):
        parse_batch('{"command": "a"}\n{oops\n')
    with pytest.raises(InvalidValue, match="line 1: expected a JSON object"):
        parse_batch("3\n")


def test_control_characters_are_exactly_unicode_category_cc() -> None:
    import sys
    import unicodedata

    from queuectl.specs import _has_control

    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        assert _has_control(f"a{ch}b") == (unicodedata.category(ch) == "Cc"), hex(code)


def test_bulk_file_refuses_lone_surrogates_per_line_and_in_flags() -> None:
    from queuectl import submit
    from queuectl.models import JobSpec
    from queuectl.specs import utf8_checked_batch

    fallback = submit.Defaults(Config.from_stored({}), "/")

    def file_specs(text: str, defaults: dict[str, str]) -> list[JobSpec]:
        checked = utf8_checked_batch(text, defaults)  # as enqueue_core reads a file
        return submit.batch(parse_batch(text), fallback, defaults=defaults,
                            utf8_checked=checked).specs

    good = '{"command": "true"}\n'
    with pytest.raises(InvalidValue, match="line 2: command is not valid UTF-8"):
        file_specs(good + '{"command": "echo \\ud800"}\n', {})
    with pytest.raises(InvalidValue, match="line 1: queue is not valid UTF-8"):
        file_specs(good, {"queue": "q\udcff"})
    # An escaped backslash before "ud800" is plain text, accepted either way.
    [spec] = file_specs('{"command": "echo \\\\ud800"}\n', {})
    assert spec.command == "echo \\ud800"
