from __future__ import annotations

from queuectl.pool.proctitle import title


def test_title_names_role_details_and_store() -> None:
    shown = title("supervisor", "/srv/q.db", "4 workers")
    assert shown == "queuectl supervisor [4 workers] /srv/q.db"
    assert title("worker", "/srv/q.db") == "queuectl worker /srv/q.db"


def test_a_password_never_shows_in_ps() -> None:
    """The title replaces the command line, which held the URL as typed."""
    shown = title("worker", "postgresql://u:s3cret@db.example:5432/q")
    assert shown == "queuectl worker postgresql://u:***@db.example:5432/q"
