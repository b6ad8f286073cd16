"""The OAuth HTTP surface: token, introspection, revocation, metadata and JWKS."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..appstate import state
from ..oauth.metadata import server_metadata
from .hygiene import check_form_request

bp = Blueprint("oauth", __name__)


@bp.before_request
def refuse_malformed() -> None:
    if request.method == "POST":
        check_form_request(request, state().settings.max_form_bytes)


@bp.post("/oauth/token")
def token() -> Response:
    response: Response = state().server.create_token_response()
    return response


@bp.post("/oauth/introspect")
def introspect() -> Response:
    response: Response = state().server.create_endpoint_response("introspection")
    return response


@bp.post("/oauth/revoke")
def revoke() -> Response:
    response: Response = state().server.create_endpoint_response("revocation")
    return response


@bp.get("/.well-known/oauth-authorization-server")
def metadata() -> Response:
    settings = state().settings
    resp = jsonify(server_metadata(settings.issuer, settings.signing_alg))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/oauth/jwks")
def jwks() -> Response:
    """Public keys only. Short max-age: resource servers also refetch on an unknown kid."""
    resp = jsonify(state().keys.jwks())
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp
