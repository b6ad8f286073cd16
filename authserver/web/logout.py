"""``GET``/``POST /oauth/logout``: RP-Initiated Logout 1.0, the ``end_session_endpoint``.

A valid ``id_token_hint`` naming this browser's session ends it at once. Anything less (no
hint, a hint of another person or an earlier sign-in) shows a confirmation page instead,
whose form carries the CSRF token: a link alone never signs anyone out. A request that
cannot be honoured (a forged hint, an unregistered ``post_logout_redirect_uri``) is shown
on an error page and changes nothing.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, redirect, render_template, request
from flask.typing import ResponseReturnValue

from ..appstate import state
from ..oauth.names import EndpointPath
from ..oidc.logout import InvalidLogoutRequest, LogoutRequest, parse_logout_request
from .csrf import csrf_ok
from .login import CSRF_FAILED
from .pages import error_page
from .session import current_session, log_out

bp = Blueprint("end_session", __name__)

CONFIRM = "confirm"  # the confirmation form's field: present only on the person's own POST
PARAMETERS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales")  # §2


def _signed_out(logout: LogoutRequest) -> ResponseReturnValue:
    return_to = logout.return_to()
    if return_to is not None:
        return redirect(return_to, 303)
    return render_template("signed_out.html", client=logout.client)


@bp.route(EndpointPath.LOGOUT, methods=["GET", "POST"])
def end_session() -> ResponseReturnValue:
    """OpenID Connect RP-Initiated Logout 1.0: a client sends the person here to sign out, with a
    confirmation page unless its id_token_hint proves who asks."""
    confirming = request.method == "POST" and CONFIRM in request.form
    if confirming and not csrf_ok():
        return error_page(*CSRF_FAILED)
    params = request.form if request.method == "POST" else request.args
    app_state = state()
    try:
        logout = parse_logout_request(params, app_state.keys, app_state.settings.issuer, app_state.server.query_client)
    except InvalidLogoutRequest as exc:
        return error_page(
            "This sign-out link is not valid",
            "The application that sent you here needs fixing; nothing was changed.",
            detail=str(exc),
        )
    current = current_session()
    if current is None:
        if request.method == "POST" and not confirming:
            # A client's cross-site form POST carries no SameSite=Lax cookie; the same
            # request as a top-level GET does, so the session it means can be found.
            query = urlencode([(name, params[name]) for name in PARAMETERS if name in params])
            return redirect(f"{EndpointPath.LOGOUT}?{query}", 303)
        return _signed_out(logout)
    if confirming or logout.identifies(current):
        log_out()
        return _signed_out(logout)
    return render_template("logout_confirm.html", user=current.user, logout=logout, confirm_field=CONFIRM)
