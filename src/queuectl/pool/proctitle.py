"""What `ps` and `top` show for a pool's processes: their role and their store.

`ps` otherwise shows every process of a pool as the same `queuectl worker start --count 4`
command line, and a machine that runs pools for several stores cannot tell them apart.
setproctitle rewrites the title where ps reads it (argv, and the kernel's comm name).
"""

from __future__ import annotations

from queuectl.settings import is_postgres, redact_url, sqlite_path

TITLE_PREFIX = "queuectl"


def title(role: str, url: str, *details: str) -> str:
    """``queuectl supervisor [2 workers] /path/q.db``: a SQLite store by its absolute path,
    a PostgreSQL one with its password as ***."""
    extra = f" [{', '.join(details)}]" if details else ""
    store = redact_url(url) if is_postgres(url) else sqlite_path(url)
    return f"{TITLE_PREFIX} {role}{extra} {store}"


def set_title(role: str, url: str, *details: str) -> None:
    """Retitle this process (best effort: a title is a courtesy, never a failure)."""
    try:
        import setproctitle
    except ImportError:  # pragma: no cover - a declared dependency
        return
    setproctitle.setproctitle(title(role, url, *details))
