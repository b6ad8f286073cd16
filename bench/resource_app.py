"""A resource server: the same tiny JSON endpoint unguarded and behind each resource_guard
backend, so the ratio between routes is the guard's cost per request.

Configured from the environment by the bench (issuer, audience, introspection client, and
the authorization server's database for the legacy API-token and Basic stores).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flask import Flask, Response

from authserver.stores import APITokenStore, UserPasswordVerifier
from resource_guard.backends import APITokenBackend, BasicAuthBackend, BearerJWTBackend, IntrospectionBackend
from resource_guard.flask import FlaskGuard

SCOPE = "reports:read"
BODY = b'{"reports":[{"id":1,"title":"Quarterly"}]}'


def _view() -> Response:
    return Response(BODY, mimetype="application/json")


def create_app() -> Flask:
    env = os.environ
    issuer, audience = env["BENCH_ISSUER"], env["BENCH_AUDIENCE"]
    database_url, secret_key = env["BENCH_DATABASE_URL"], env["BENCH_SECRET_KEY"]
    backends: dict[str, Any] = {
        "jwt": BearerJWTBackend(issuer=issuer, audience=audience),
        "introspection": IntrospectionBackend(issuer=issuer, client_id=env["BENCH_RS_CLIENT_ID"],
                                              client_secret=env["BENCH_RS_CLIENT_SECRET"], audience=audience),
        "api-token": APITokenBackend(store=APITokenStore(database_url, secret_key=secret_key)),
        "basic": BasicAuthBackend(verifier=UserPasswordVerifier(database_url, secret_key=secret_key),
                                  max_failures=1_000_000),
    }
    app = Flask(__name__)
    app.add_url_rule("/healthz", "healthz", lambda: "ok")
    app.add_url_rule("/unguarded", "unguarded", _view)
    for name, backend in backends.items():
        guarded: Callable[[], Response] = FlaskGuard(backends=[backend]).require(scopes=[SCOPE])(_view)
        app.add_url_rule(f"/{name}", name, guarded)
    return app
