"""The OAuth HTTP surface: token, introspection, revocation, metadata and JWKS."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from ..oauth.metadata import server_metadata
from .hygiene import check_form_request

bp = Blueprint("oauth", __name__)


def _state():  # type: ignore[no-untyped-def]
    return current_app.extensions["authserver"]


@bp.before_request
def refuse_malformed() -> None:
    if request.method == "POST":
        check_form_request(request, _state().settings.max_form_bytes)


@bp.post("/oauth/token")
def token() -> Response:
    return _state().server.create_token_response()


@bp.post("/oauth/introspect")
def introspect() -> Response:
    return _state().server.create_endpoint_response("introspection")


@bp.post("/oauth/revoke")
def revoke() -> Response:
    return _state().server.create_endpoint_response("revocation")


@bp.get("/.well-known/oauth-authorization-server")
def metadata() -> Response:
    settings = _state().settings
    resp = jsonify(server_metadata(settings.issuer, settings.signing_alg))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/oauth/jwks")
def jwks() -> Response:
    """Public keys only. Short max-age: resource servers also refetch on an unknown kid."""
    resp = jsonify(_state().keys.jwks())
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp
