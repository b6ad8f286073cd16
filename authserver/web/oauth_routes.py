"""The OAuth HTTP surface: token, introspection, revocation, metadata (RFC 8414 and OpenID
Connect Discovery) and JWKS."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..appstate import state
from ..oauth.introspection import IntrospectionEndpoint
from ..oauth.metadata import server_metadata
from ..oauth.names import EndpointPath
from ..oauth.revocation import RevocationEndpoint
from .hygiene import check_form_request

bp = Blueprint("oauth", __name__)


@bp.before_request
def refuse_malformed() -> None:
    if request.method == "POST":
        check_form_request(request, state().settings.max_form_bytes)


@bp.post(EndpointPath.TOKEN)
def token() -> Response:
    response: Response = state().server.create_token_response()
    return response


@bp.post(EndpointPath.INTROSPECT)
def introspect() -> Response:
    response: Response = state().server.create_endpoint_response(IntrospectionEndpoint.ENDPOINT_NAME)
    return response


@bp.post(EndpointPath.REVOKE)
def revoke() -> Response:
    response: Response = state().server.create_endpoint_response(RevocationEndpoint.ENDPOINT_NAME)
    return response


@bp.get(EndpointPath.METADATA)
def metadata() -> Response:
    """RFC 8414 metadata and OpenID Connect Discovery: one document (``oauth/metadata.py``)."""
    app_state = state()
    resp = jsonify(server_metadata(app_state.server, app_state.settings))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


bp.add_url_rule(EndpointPath.OPENID_CONFIGURATION, "openid_configuration", metadata, methods=["GET"])


@bp.get(EndpointPath.JWKS)
def jwks() -> Response:
    """Public keys only. Short max-age: resource servers also refetch on an unknown kid."""
    resp = jsonify(state().keys.jwks())
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp
