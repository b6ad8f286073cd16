"""``GET``/``POST /oauth/userinfo``: the Bearer token read as RFC 6750 §2 allows (the
``Authorization`` header, or for POST the form body), refusals as RFC 6750 §3 challenges."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from resource_guard.errors import AuthenticationRequired, AuthError, InvalidRequest, challenge

from ..appstate import state
from ..models.types import utcnow
from ..oauth.names import EndpointPath
from ..oidc.userinfo import token_owner, userinfo_claims
from .hygiene import FORM

bp = Blueprint("userinfo", __name__)

REALM = "authserver"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _refusal(error: AuthError) -> Response:
    resp = jsonify(error.to_json())
    resp.status_code = error.status
    resp.headers.update(NO_STORE)
    resp.headers["WWW-Authenticate"] = challenge("Bearer", REALM, error, with_error_params=True)
    return resp


def _presented_token() -> str | AuthError:
    """The access token, sent exactly one way (RFC 6750 §2: never more than one method)."""
    if "access_token" in request.args:
        return InvalidRequest("Send the access token in the Authorization header, not in the URL.")
    header = request.headers.get("Authorization")
    body = request.form.getlist("access_token") if request.method == "POST" and request.mimetype == FORM else []
    if header is not None and body:
        return InvalidRequest("Send the access token one way: the Authorization header or the form body.")
    if len(body) > 1:
        return InvalidRequest("The parameter access_token is repeated.")
    if body:
        return body[0] or InvalidRequest("The access_token parameter is empty.")
    parts = (header or "").split()
    if not parts or parts[0].lower() != "bearer":
        return AuthenticationRequired(needed_scope="openid")
    if len(parts) != 2:
        return InvalidRequest("Invalid Bearer header. Send exactly one token after 'Bearer'.")
    return parts[1]


@bp.route(EndpointPath.USERINFO, methods=["GET", "POST"])
def userinfo() -> Response:
    """OpenID Connect UserInfo (Core §5.3): the claims the access token's scopes allow, for a
    Bearer token from this server."""
    presented = _presented_token()
    if isinstance(presented, AuthError):
        return _refusal(presented)
    owner = token_owner(state().tokens, presented, utcnow())
    if isinstance(owner, AuthError):
        return _refusal(owner)
    resp = jsonify(userinfo_claims(owner.user, owner.scope))
    resp.headers.update(NO_STORE)
    return resp
