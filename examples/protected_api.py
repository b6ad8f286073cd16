"""A small reports API protected by resource_guard, against a local authserver.

Run the authorization server (``make run``), register this API's introspection client and a
caller, then serve this module under gunicorn::

    export ISSUER=http://127.0.0.1:5000 AUDIENCE=https://api.example
    export RS_CLIENT_ID=... RS_CLIENT_SECRET=...        # authserver clients create --name reports-api --json
    .venv/bin/gunicorn --pythonpath examples 'protected_api:create_app()' -b 127.0.0.1:8000

Callers may present a JWT or an opaque bearer token from the authserver, a legacy
``Authorization: token asapi_...`` API token, or a user's password over Basic. The legacy
backends read the authserver database named by ``AUTHSERVER_DATABASE_URL`` (and its secret
from the same settings as the server).
"""

from __future__ import annotations

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from reports_guard import backends

from resource_guard.flask import FlaskGuard

REPORTS = {1: {"id": 1, "title": "Q3 revenue"}, 2: {"id": 2, "title": "Q4 forecast"}}


def create_app() -> Flask:
    guard = FlaskGuard(backends=backends(cache_prefix="reports-api:"))
    app = Flask(__name__)
    guard.init_app(app)

    @app.get("/reports")
    @guard.require(resource="reports")
    def list_reports() -> ResponseReturnValue:
        return jsonify(reports=list(REPORTS.values()), caller=guard.principal.subject)  # type: ignore[union-attr]

    @app.post("/reports")
    @guard.require(resource="reports")
    def create_report() -> ResponseReturnValue:
        return jsonify(created=True), 201

    @app.route("/reports/<int:report_id>", methods=["GET", "DELETE"])
    @guard.require(resource="reports", item_arg="report_id")
    def report(report_id: int) -> ResponseReturnValue:
        if report_id not in REPORTS:
            return jsonify(error="not_found"), 404
        return jsonify(REPORTS[report_id])

    @app.get("/whoami")
    @guard.require(optional=True)
    def whoami() -> ResponseReturnValue:
        p = guard.principal
        if p is None:
            return jsonify(anonymous=True)
        return jsonify(subject=p.subject, client_id=p.client_id, backend=p.backend,
                       scopes=sorted(p.scopes) if p.scopes is not None else None)

    return app
