"""The authorization endpoint (RFC 6749 §3.1, §4.1.1): sign in, consent, redirect back.

Authlib validates the request. Until the client and its redirect URI are known to be
registered, errors are shown on a page and never redirected (§4.1.2.1, RFC 9700 §4.1);
after that they go back to the client with ``error``, ``state`` and ``iss`` (RFC 9207).
The consent form posts to this same URL, so the request it approves is the one it shows.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from ..appstate import state
from ..models import Client, User
from ..oauth.authorization_code import AuthorizationCodeGrant
from ..oauth.names import EndpointPath
from ..oauth.server import AuthorizationServer
from .consent import has_consent, remember_consent
from .csrf import csrf_ok
from .hygiene import refuse_nul_bytes_on_pages
from .login import CSRF_FAILED
from .pages import error_page
from .resource_consent import describe_resources, self_registered_notes
from .scopes import describe
from .session import current_user

bp = Blueprint("authorize", __name__)
bp.before_app_request(refuse_nul_bytes_on_pages)


def _server() -> AuthorizationServer:
    return state().server


def _to_client(response: Response) -> Response:
    """After a form POST, 303 so the browser follows with a GET (RFC 9700 §4.12)."""
    if request.method == "POST" and response.status_code == 302:
        response.status_code = 303
    return response


def _invalid_request_page(error: OAuth2Error) -> ResponseReturnValue:
    return error_page(
        "This sign-in link is not valid",
        "The application that sent you here needs fixing; nothing was shared with it.",
        detail=error.description or error.error,
    )


def _prompts(grant: AuthorizationCodeGrant) -> set[str]:
    """OpenID Connect's ``prompt``: ``none`` (no page may be shown) and ``consent``."""
    prompts = set((grant.request.payload.data.get("prompt") or "").split())
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values.")
    return prompts


@bp.route(EndpointPath.AUTHORIZE, methods=["GET", "POST"])
def authorize() -> ResponseReturnValue:
    if request.method == "POST" and not csrf_ok():
        return error_page(*CSRF_FAILED)
    server = _server()
    user = current_user()
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        if error.redirect_uri:
            return _to_client(server.authorization_error_response(error))
        return _invalid_request_page(error)
    state = grant.request.payload.state
    try:
        prompts = _prompts(grant)
        if user is None and "none" in prompts:
            raise LoginRequiredError(redirect_uri=grant.redirect_uri, state=state)
        if user is not None and request.method == "GET" and "consent" not in prompts:
            if has_consent(user, grant.client, grant.request.scope):
                remembered: Response = server.create_authorization_response(grant_user=user, grant=grant)
                return remembered
            if "none" in prompts:
                raise ConsentRequiredError(redirect_uri=grant.redirect_uri, state=state)
    except OAuth2Error as error:
        error.redirect_uri, error.state = grant.redirect_uri, state
        return _to_client(server.authorization_error_response(error))
    if user is None:
        return redirect(url_for("login.login_page", next=request.full_path), 303)
    if request.method == "GET":
        return _consent_page(user, grant.client, grant.request.scope, grant.redirect_uri, grant.context.audience)
    return _decide(server, grant, user, request.form.get("decision"))


def _decide(
    server: AuthorizationServer, grant: AuthorizationCodeGrant, user: User, decision: str | None
) -> ResponseReturnValue:
    if decision == "allow":
        remember_consent(user, grant.client, grant.request.scope)
        return _to_client(server.create_authorization_response(grant_user=user, grant=grant))
    if decision == "deny":  # access_denied back to the client (§4.1.2.1)
        return _to_client(server.create_authorization_response(grant_user=None, grant=grant))
    return error_page("Choose Allow or Deny", "The form did not say whether you allow this application.")


def _consent_page(
    user: User, client: Client, scope: str, redirect_uri: str, audience: tuple[str, ...]
) -> ResponseReturnValue:
    return render_template(
        "consent.html",
        user=user,
        client=client,
        scopes=describe(scope),
        return_to=urlsplit(redirect_uri).netloc or redirect_uri,
        action=request.full_path,
        resources=describe_resources(client, audience),
        self_registered=self_registered_notes(client),
    )
