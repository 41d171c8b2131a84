"""huey with SQLite storage; consumer: `huey_consumer huey_app.huey -w 2 -k process`."""

from __future__ import annotations

import os
import sys
import time

from common import run_and_record
from huey import SqliteHuey

huey = SqliteHuey("bench", filename=os.environ["PEER_DB"])


@huey.task()
def shell(command: str, enqueued_at: float) -> None:
    run_and_record(command, enqueued_at)


def main(argv: list[str]) -> None:
    """huey_app.py COUNT [PAUSE]: enqueue COUNT `true` jobs, PAUSE seconds apart."""
    for _ in range(int(argv[1])):
        shell("true", time.time())
        if len(argv) > 2:
            time.sleep(float(argv[2]))


if __name__ == "__main__":  # through the module, so the task is named huey_app.shell
    import huey_app

    huey_app.main(sys.argv)
