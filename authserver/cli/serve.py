"""``authserver serve``: the production server (gunicorn) in front of the app factory."""

from __future__ import annotations

import errno
import socket
import sys
from typing import Any

import click
from flask.cli import with_appcontext
from gunicorn.app.base import BaseApplication

from ..appstate import state
from ..extensions import db
from ..oauth.names import EndpointPath
from .readiness import describe


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any], overrides: dict[str, Any]) -> None:
        self.options = options
        self.overrides = overrides
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """In each worker, after the fork: the app, and its back-channel logout worker thread."""
        from .. import create_app
        from ..oauth.backchannel_logout import LogoutDelivery

        app = create_app(self.overrides)
        app_state = state(app)
        LogoutDelivery(app, app_state.keys, app_state.settings.issuer).start()
        return app


def _ensure_free(host: str, port: int) -> None:
    """Say so at once when the address is taken; gunicorn would retry for five seconds."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(
                    f"port {port} on {host} is already in use (another server?): stop it, or pick another "
                    f"port with --port {port + 1} (make run PORT={port + 1})"
                ) from None
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _banner(issuer: str, url: str, workers: int, database: str) -> None:
    command = sys.argv[0] if sys.argv[0].endswith("authserver") else "authserver"
    click.echo(
        f"\n  authserver on {url} ({workers} workers)\n"
        f"  Issuer:   {issuer}\n"
        f"  Metadata: {issuer}{EndpointPath.METADATA}\n"
        f"  Database: {database}\n\n"
        "  Next, in another terminal:\n"
        f"    {command} clients create --name demo --scope 'reports:read' --json\n"
        f"    curl -u CLIENT_ID:CLIENT_SECRET -d grant_type=client_credentials {url}{EndpointPath.TOKEN}\n"
    )


@click.command("serve")
@with_appcontext
@click.option("--host", help="Address to listen on  [default: the host setting, 127.0.0.1]")
@click.option("--port", type=click.IntRange(1, 65535), help="Port  [default: the port setting, 5000]")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes  [default: the workers setting, 2]")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(host: str | None, port: int | None, workers: int | None, threads: int) -> None:
    """Serve the authorization server under gunicorn.

    Unless AUTHSERVER_ISSUER is set, the issuer is http://HOST:PORT.
    """
    from .. import create_app

    settings = state().settings
    # Options win over settings, in this process and in every worker.
    overrides = {k: v for k, v in (("host", host), ("port", port), ("workers", workers)) if v is not None}
    if overrides:
        settings = state(create_app(overrides)).settings
    host, port, workers = settings.host, settings.port, settings.workers
    _ensure_free(host, port)
    state().keys.active()  # create the first signing key once, before workers fork
    # No database connection may cross the fork: workers sharing one socket (and exiting
    # through this app context's teardown) would interleave on it and hang at shutdown.
    db.session.remove()
    db.engine.dispose()
    _banner(settings.issuer, f"http://{host}:{port}", workers, describe(settings.database_url))
    _Gunicorn(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread" if threads > 1 else "sync",
            "accesslog": "-",
            # The request line only: no query strings, headers or bodies reach the log.
            "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss',
            "errorlog": "-",
            "keepalive": 5,
            # one shared control socket per user would collide between servers on a box
            "control_socket_disable": True,
        },
        overrides,
    ).run()


group = serve
