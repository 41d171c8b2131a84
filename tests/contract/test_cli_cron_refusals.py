"""`cron` refusals: one line, nothing written (in-process)."""

from __future__ import annotations

from tests.helpers import Cli
from tests.inprocess import run_main


def test_bad_input_is_one_line_and_writes_nothing(cli: Cli) -> None:
    cli.ok("cron", "add", "keep", "@daily", "-c", "true", "--tz", "UTC")
    before = cli.json("cron", "list")
    cases = [
        (["add", "x", "61 * * * *", "-c", "true"], 2, "bad minute"),
        (["add", "x", "@daily", "-c", "true", "--tz", "Mars/Base"], 1, "unknown time zone"),
        (["add", "a@b", "@daily", "-c", "true"], 1, "invalid schedule name"),
        (["add", "keep", "@hourly", "-c", "false"], 1, "already exists"),
        (["add", "x", "@daily", "-c", "true", "--max-retries", "-1"], 1, "max_retries"),
        (["add", "x", "@daily", "-c", "true", "--timeout", "soon"], 2, "invalid duration"),
        (["add", "x", "every 0s", "-c", "true"], 1, "at least 1s"),
        (["add", "x", "@daily", "-c", "true", "--overlap", "maybe"], 2, "maybe"),
        (["add", "x", "@daily", "-c", "true", "--jitter", "soon"], 2, "invalid duration"),
        (["add", "x", "@daily", "-c", "true", "--jitter", "-5m"], 1, "invalid duration"),
        (["add", "x", "@daily", "-c", "true", "--alert-after", "1 day"], 2, "invalid duration"),
        (["add", "x", "@daily", "-c", "true", "--alert-after", "-1h"], 1, "invalid duration"),
        (["remove", "nope"], 1, "not found"),
        (["run", "nope"], 1, "not found"),
    ]
    for args, code, words in cases:
        proc = cli.run("cron", *args)
        assert proc.returncode == code, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (args, proc.stderr)
    # A TZ that is a POSIX rule, not a zone name, is refused rather than guessed around.
    proc = run_main(["cron", "add", "x", "@daily", "-c", "true"],
                    {**cli.env, "TZ": "CET-1CEST,M3.5.0,M10.5.0/3"}, cli.cwd)
    assert proc.returncode == 1 and "is not an IANA zone name" in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert cli.json("cron", "list") == before
    assert cli.json("list") == []

