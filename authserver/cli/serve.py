"""``authserver serve``: the production server in front of the app factory.

granian by default (a native HTTP/1.1 layer with keep-alive: under load it costs the worker
far less per request than gunicorn's Python one, see README "Performance"); gunicorn with
``--server gunicorn``. Both supervise their workers (a worker that dies is replaced), drain
on SIGTERM, restart workers gracefully on SIGHUP, and write an access log of the request
line without its query string.
"""

from __future__ import annotations

import errno
import logging
import socket
import sys
from contextlib import nullcontext
from functools import partial
from typing import Any

import click
from flask.cli import with_appcontext

from ..appstate import state
from ..changes.listener import Listener
from ..extensions import db
from ..logs import LogFormat
from ..metrics import multiprocess_directory
from ..oauth.names import EndpointPath
from . import held_stops
from .draining import Draining, WSGIApp
from .group_stop import GroupStoppedServer
from .readiness import describe

log = logging.getLogger(__name__)
SERVERS = ("granian", "gunicorn")
# Seconds a worker gets to finish its requests on SIGTERM or a restart before it is killed.
GRACEFUL_TIMEOUT = 30
# The request line only: no query strings, headers or bodies reach the log.
GUNICORN_ACCESS_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'
GRANIAN_ACCESS_FORMAT = '%(addr)s "%(method)s %(path)s" %(status)d %(dt_ms).3fms'
# granian's own lines as gunicorn writes its error log (stderr, with time and process), the
# access log alone on stdout; granian puts this over its defaults.
_HANDLER = {"class": "logging.StreamHandler", "formatter": "plain"}
GRANIAN_LOG_CONFIG: dict[str, Any] = {
    "formatters": {"plain": {"format": "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"},
                   "access": {"format": "%(message)s"}},
    "handlers": {"console": {**_HANDLER, "stream": "ext://sys.stderr"},
                 "access": {**_HANDLER, "formatter": "access", "stream": "ext://sys.stdout"}},
}
# log_format = "json": the servers' own lines as JSON too; the access log is the app's
# (``web.request_id``), which has the request id the servers' access lines cannot carry.
JSON_FORMATTER = {"()": "authserver.logs.JSONFormatter"}
GRANIAN_JSON_LOG_CONFIG: dict[str, Any] = {
    **GRANIAN_LOG_CONFIG, "formatters": {**GRANIAN_LOG_CONFIG["formatters"], "plain": JSON_FORMATTER}}


def _ensure_free(host: str, port: int) -> None:
    """Say so at once when the address is taken; gunicorn would retry for five seconds."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(
                    f"port {port} on {host} is already in use (another server?): stop it, or pick another "
                    f"port with --port {port + 1} (make run PORT={port + 1})"
                ) from None
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _banner(issuer: str, url: str, workers: int, server: str, database: str) -> None:
    command = sys.argv[0] if sys.argv[0].endswith("authserver") else "authserver"
    click.echo(
        f"\n  authserver on {url} ({server}, {workers} workers)\n"
        f"  Issuer:   {issuer}\n"
        f"  Metadata: {issuer}{EndpointPath.METADATA}\n"
        f"  Database: {database}\n\n"
        "  Next, in another terminal:\n"
        f"    {command} clients create --name demo --scope 'reports:read' --json\n"
        f"    curl -u CLIENT_ID:CLIENT_SECRET -d grant_type=client_credentials {url}{EndpointPath.TOKEN}\n"
    )


def _app(overrides: dict[str, Any]) -> Any:
    """Each worker's app, built in the worker after the fork, with its back-channel logout
    delivery thread."""
    from .. import create_app
    from ..oauth.backchannel_logout import LogoutDelivery

    app = create_app(overrides)
    app_state = state(app)
    settings = app_state.settings
    LogoutDelivery(app, app_state.keys, settings.issuer, settings.cimd_allowed_hosts,
                   changes=app_state.changes).start()
    channel = app_state.changes.channel
    if channel is not None:
        Listener(app_state.changes, channel).start()
    return app


def _granian_app(overrides: dict[str, Any]) -> WSGIApp:
    """A granian worker's app: ``_app``, in a worker that stops when told (``draining``)."""
    draining = Draining()
    draining.watch()
    return draining.wrap(_app(overrides))


def _granian(host: str, port: int, workers: int, threads: int, overrides: dict[str, Any], json_logs: bool) -> None:
    from granian.constants import HTTPModes, Interfaces

    held_stops.hold_across_forks()
    GroupStoppedServer(
        "authserver:create_app",  # its name in granian's log lines; workers load through _app
        address=host, port=port, interface=Interfaces.WSGI, http=HTTPModes.http1, websockets=False,
        # threads: the app's threads per worker; granian's own I/O runs in native threads.
        workers=workers, blocking_threads=threads,
        respawn_failed_workers=True, workers_kill_timeout=GRACEFUL_TIMEOUT,
        log_access=not json_logs, log_access_format=GRANIAN_ACCESS_FORMAT,
        log_dictconfig=GRANIAN_JSON_LOG_CONFIG if json_logs else GRANIAN_LOG_CONFIG,
    ).serve(target_loader=partial(_granian_app, overrides), wrap_loader=False)


def _gunicorn(host: str, port: int, workers: int, threads: int, overrides: dict[str, Any], json_logs: bool) -> None:
    from gunicorn.app.base import BaseApplication

    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "accesslog": None if json_logs else "-",
        "access_log_format": GUNICORN_ACCESS_FORMAT,
        "errorlog": "-",
        "keepalive": 5,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        # one shared control socket per user would collide between servers on a box
        "control_socket_disable": True,
        # workers fork with the stops blocked (held_stops); by now their handlers are set
        "post_worker_init": lambda _worker: held_stops.release(),
    }
    if json_logs:
        from .gunicorn_json import JSONLogger
        options["logger_class"] = JSONLogger

    held_stops.hold_across_forks()

    class Gunicorn(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return _app(overrides)

    Gunicorn().run()


@click.command("serve")
@with_appcontext
@click.option("--host", help="Address to listen on  [default: the host setting, 127.0.0.1]")
@click.option("--port", type=click.IntRange(1, 65535), help="Port  [default: the port setting, 5000]")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes  [default: the workers setting, 2]")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Threads running the app in each worker")
@click.option("--server", type=click.Choice(SERVERS), default=SERVERS[0], show_default=True,
              help="HTTP server in front of the workers")
def serve(host: str | None, port: int | None, workers: int | None, threads: int, server: str) -> None:
    """Serve the authorization server under granian (or gunicorn).

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
    url = f"http://{host}:{port}"
    json_logs = settings.log_format == LogFormat.JSON
    if json_logs:  # no banner in a stream of JSON lines: one line says the same
        log.info("authserver on %s (%s, %d workers), issuer %s", url, server, workers, settings.issuer, extra={
            "fields": {"url": url, "server": server, "workers": workers, "issuer": settings.issuer}})
    else:
        _banner(settings.issuer, url, workers, server, describe(settings.database_url))
    with multiprocess_directory() if settings.metrics else nullcontext():
        (_granian if server == "granian" else _gunicorn)(host, port, workers, threads, overrides, json_logs)


group = serve
