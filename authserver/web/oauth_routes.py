"""The OAuth HTTP surface: token, introspection, revocation, metadata (RFC 8414 and OpenID
Connect Discovery) and JWKS."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from ..appstate import state
from ..audit import Actor, EventType, record
from ..extensions import db
from ..metrics import GRANT_TYPES, TOKEN_ERRORS, bounded
from ..oauth.introspection import IntrospectionEndpoint
from ..oauth.metadata import server_metadata
from ..oauth.names import EndpointPath
from ..oauth.revocation import RevocationEndpoint
from ..oauth.server import is_plausible_client_id
from .hygiene import check_form_request

bp = Blueprint("oauth", __name__)
log = logging.getLogger(__name__)


@bp.before_request
def refuse_malformed() -> None:
    if request.method == "POST":
        check_form_request(request, state().settings.max_form_bytes)


@bp.post(EndpointPath.TOKEN)
def token() -> Response:
    """The token endpoint (RFC 6749 §3.2): client_credentials, authorization_code with PKCE and
    refresh_token; errors as RFC 6749 §5.2 JSON."""
    started = time.perf_counter()
    app_state = state()
    response: Response = app_state.server.create_token_response()
    # Only a refusal's body is read back, for its error code: issuance pays nothing for it.
    error = None if response.status_code == 200 else _error_code(response)
    app_state.metrics.token_request(request.form.get("grant_type"), error, time.perf_counter() - started)
    if response.status_code != 200:
        _record_refusal(error)
    return response


def _record_refusal(error: str | None) -> None:
    """``token.refused``, in its own transaction (there is no change to commit it with).
    The client is named only when the id it claimed is registered, and the grant type and
    error only when they are known ones: nothing a caller types reaches the trail verbatim."""
    claimed = request.authorization.username if request.authorization else request.form.get("client_id")
    try:  # the cache, never query_client: a stranger's URL is not fetched to name it
        known = state().server.clients.get(claimed) if is_plausible_client_id(claimed) else None
        record(EventType.TOKEN_REFUSED, Actor.CLIENT if known else Actor.ANONYMOUS,
               client_id=known.client_id if known else None,
               grant_type=bounded(request.form.get("grant_type"), GRANT_TYPES), error=bounded(error, TOKEN_ERRORS))
        db.session.commit()
    except SQLAlchemyError:  # the database is why it was refused: the answer stands, the log says so
        db.session.rollback()
        log.warning("token.refused not recorded: the database is unavailable")


def _error_code(response: Response) -> str | None:
    body = response.get_json(silent=True)
    return body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else None


@bp.post(EndpointPath.INTROSPECT)
def introspect() -> Response:
    """Token introspection (RFC 7662), for an authenticated client the token concerns."""
    response: Response = state().server.create_endpoint_response(IntrospectionEndpoint.ENDPOINT_NAME)
    return response


@bp.post(EndpointPath.REVOKE)
def revoke() -> Response:
    """Token revocation (RFC 7009), with its grant family; always 200 for a token of the calling client."""
    app_state = state()
    response: Response = app_state.server.create_endpoint_response(RevocationEndpoint.ENDPOINT_NAME)
    if response.status_code == 200:
        app_state.metrics.revocations.inc()
    return response


@bp.get(EndpointPath.METADATA)
def metadata() -> Response:
    """Authorization server metadata (RFC 8414) and OpenID Connect Discovery: one document.

    Built by ``oauth/metadata.py`` from the registered grants, endpoints and routes."""
    app_state = state()
    resp = jsonify(server_metadata(app_state.server, app_state.settings))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


bp.add_url_rule(EndpointPath.OPENID_CONFIGURATION, "openid_configuration", metadata, methods=["GET"])


@bp.get(EndpointPath.JWKS)
def jwks() -> Response:
    """The public signing keys (RFC 7517), cached for 300 s.

    Public keys only. Short max-age: resource servers also refetch on an unknown kid."""
    resp = jsonify(state().keys.jwks())
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp
