"""The OAuth HTTP surface: token, introspection, revocation, metadata and JWKS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app, jsonify, request

from ..oauth.metadata import server_metadata
from .hygiene import check_form_request

if TYPE_CHECKING:
    from .. import AppState

bp = Blueprint("oauth", __name__)


def _state() -> AppState:
    state: AppState = current_app.extensions["authserver"]
    return state


@bp.before_request
def refuse_malformed() -> None:
    if request.method == "POST":
        check_form_request(request, _state().settings.max_form_bytes)


@bp.post("/oauth/token")
def token() -> Response:
    response: Response = _state().server.create_token_response()
    return response


@bp.post("/oauth/introspect")
def introspect() -> Response:
    response: Response = _state().server.create_endpoint_response("introspection")
    return response


@bp.post("/oauth/revoke")
def revoke() -> Response:
    response: Response = _state().server.create_endpoint_response("revocation")
    return response


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
