"""``authserver serve``: the production server (gunicorn) in front of the app factory."""

from __future__ import annotations

import os
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from gunicorn.app.base import BaseApplication

from ..extensions import db


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from .. import create_app

        return create_app()


@click.command("serve")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=lambda: int(os.environ.get("AUTHSERVER_WORKERS", 2)), show_default="2", type=click.IntRange(1, 64))
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the authorization server under gunicorn."""
    state = current_app.extensions["authserver"]
    state.keys.active()  # create the first signing key once, before workers fork
    # No database connection may cross the fork: workers sharing one socket (and exiting
    # through this app context's teardown) would interleave on it and hang at shutdown.
    db.session.remove()
    db.engine.dispose()
    click.echo(f"authserver: issuer {state.settings.issuer}, serving on http://{host}:{port} ({workers} workers)")
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
        }
    ).run()


group = serve
