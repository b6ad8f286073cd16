"""The box's ceiling: a bare Flask endpoint doing what every token request must do anyway.

It reads the Basic credentials and the same form body, and answers JSON of exactly the size
of the real token response (``BENCH_BODY_BYTES``) with the same cache headers; no Authlib,
no database, no signing. Run under the bench's server with ``authserver serve``'s settings.
"""

from __future__ import annotations

import json
import os

from flask import Flask, Response, request


def _body(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes shaped like a token response."""
    skeleton = {"access_token": "", "token_type": "Bearer", "expires_in": 3600, "scope": "reports:read"}
    pad = max(size - len(json.dumps(skeleton, separators=(",", ":"))), 0)
    skeleton["access_token"] = "x" * pad
    return json.dumps(skeleton, separators=(",", ":")).encode()


def create_app() -> Flask:
    app = Flask(__name__)
    body = _body(int(os.environ.get("BENCH_BODY_BYTES", "600")))

    @app.post("/token")
    def token() -> Response:
        authorization = request.authorization
        grant_type = request.form.get("grant_type")
        if authorization is None or grant_type is None:
            return Response(b'{"error":"invalid_request"}', status=400, mimetype="application/json")
        return Response(body, mimetype="application/json", headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    return app
