"""procrastinate on PostgreSQL; workers: `procrastinate --app=procrastinate_app.app worker`."""

from __future__ import annotations

import os
import sys
import time

from common import run_and_record
from procrastinate import App, PsycopgConnector

app = App(connector=PsycopgConnector(conninfo=os.environ["PEER_DB"]))


@app.task(name="shell")
def shell(command: str, enqueued_at: float) -> None:
    run_and_record(command, enqueued_at)


def main(argv: list[str]) -> None:
    """procrastinate_app.py schema | COUNT [PAUSE]: apply the schema, or defer COUNT
    `true` jobs, PAUSE seconds apart."""
    with app.open():
        if argv[1] == "schema":
            app.schema_manager.apply_schema()
            return
        for _ in range(int(argv[1])):
            shell.defer(command="true", enqueued_at=time.time())
            if len(argv) > 2:
                time.sleep(float(argv[2]))


if __name__ == "__main__":  # through the module, like the workers import it
    import procrastinate_app

    procrastinate_app.main(sys.argv)
