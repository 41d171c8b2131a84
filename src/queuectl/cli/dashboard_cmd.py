"""dashboard: the live web page and JSON API. The web stack loads only in here."""

from __future__ import annotations

import click

from queuectl import output, proctitle
from queuectl.cli.app import CliContext, pass_cli_context
from queuectl.cli.params import bounded
from queuectl.errors import InvalidValue
from queuectl.settings import redact_url

TOKEN_ENV = "QUEUECTL_DASHBOARD_TOKEN"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs a token.")
@click.option("--port", type=int, callback=bounded(0, 65535), default=5000, show_default=True,
              help="TCP port (0: any free one).")
@click.option("--token", envvar=TOKEN_ENV, metavar="T",
              help=f"Require this bearer token on every request. Prefer setting {TOKEN_ENV}: "
                   "arguments are visible to other users in ps.")
@pass_cli_context
def dashboard(cli_ctx: CliContext, host: str, port: int, token: str | None) -> None:
    """Serve the live dashboard, its JSON API and /metrics for Prometheus.

    \b
      queuectl dashboard                      # http://127.0.0.1:5000/
      QUEUECTL_DASHBOARD_TOKEN=$(openssl rand -hex 16) queuectl dashboard --host 0.0.0.0
    """
    from queuectl.web import server

    # An empty or blank variable (`$(cat missing-file)`) means no token, not a blank one.
    token = token if token and token.strip() else None
    if not server.is_loopback(host) and token is None:
        raise InvalidValue(
            f"refusing to listen on {host} without a token: set {TOKEN_ENV} (or pass --token)"
        )
    # Fail now, with one clear line, if the store cannot be opened. A store named by --db
    # or QUEUECTL_DB must exist, as for the read commands: a mistyped path would otherwise
    # serve an empty queue (and create it). The default store is created.
    cli_ctx.store()
    sock = server.bind(host, port)
    url = server.public_url(host, sock.getsockname()[1])
    access = "token required (open /?token=... once, or send Authorization: Bearer)" if token \
        else "no token (loopback only)"
    output.note(f"queuectl dashboard on {url} - store {redact_url(cli_ctx.url)} - {access}")
    output.note("Ctrl-C to stop")
    cli_ctx.close()  # the server opens its own stores, one per thread that needs one
    proctitle.set_title("dashboard", cli_ctx.url, url)  # and the URL typed with --db leaves ps
    server.serve(cli_ctx.url, sock, token)
