"""The authorization endpoint (RFC 6749 §3.1, §4.1.1): sign in, consent, redirect back.

Authlib validates the request. Until the client and its redirect URI are known to be
registered, errors are shown on a page and never redirected (§4.1.2.1, RFC 9700 §4.1);
after that they go back to the client with ``error``, ``state`` and ``iss`` (RFC 9207).
The consent form posts to this same URL, so the request it approves is the one it shows.
OpenID Connect's ``prompt``, ``max_age`` and the rest are ``auth_request``'s business.
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
from ..config import Settings
from ..models import Client, Session, User
from ..models.backchannel import record_session_client
from ..models.types import utcnow
from ..oauth.authorization_code import AuthorizationCodeGrant
from ..oauth.id_tokens import asks_for_id_token
from ..oauth.names import EndpointPath
from ..oauth.server import AuthorizationServer
from ..oidc.id_token_hint import InvalidIdTokenHint, verify_id_token_hint
from .auth_request import AuthorizationRequest, Interaction, interaction
from .consent import has_consent, remember_consent
from .csrf import csrf_ok
from .hygiene import refuse_nul_bytes_on_pages
from .login import CSRF_FAILED
from .pages import error_page
from .resource_consent import describe_resources, self_registered_notes
from .scopes import describe
from .session import current_session

bp = Blueprint("authorize", __name__)
bp.before_app_request(refuse_nul_bytes_on_pages)


def _server() -> AuthorizationServer:
    return state().server


def _settings() -> Settings:
    return state().settings


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


def _parameters() -> list[tuple[str, str]]:
    """Every parameter of the request, query and form, in order and repeats included."""
    return [(name, value) for part in (request.args, request.form) for name, values in part.lists() for value in values]


def _is_consent_answer() -> bool:
    """The consent form answers with ``decision`` (and its CSRF token). Any other POST is an
    authorization request sent as a form (OIDC Core §3.1.2.1), treated exactly like a GET:
    it can show a page, never approve one."""
    return request.method == "POST" and "decision" in request.form


def _must_sign_in(
    signed_in: Session | None, wanted: Interaction, pending: AuthorizationRequest
) -> bool:
    """No session; or one that ``prompt``/``max_age`` find too old, unless it began after
    this very request sent the person to sign in (so a demanded sign-in never loops)."""
    if signed_in is None:
        return True
    if not wanted.demands_fresh_sign_in(signed_in.auth_time, utcnow()):
        return False
    demanded_at = pending.sign_in_demanded_at()
    return demanded_at is None or signed_in.auth_time < demanded_at


def _hinted_subject(grant: AuthorizationCodeGrant) -> str | None:
    """OIDC Core §3.1.2.1 ``id_token_hint``: the person the client believes is signed in. It
    must be an ID token we issued to this very client (expired is fine: it is a hint)."""
    value = grant.request.payload.data.get("id_token_hint")
    if not value:
        return None
    try:
        hint = verify_id_token_hint(value, state().keys, _settings().issuer)
    except InvalidIdTokenHint as exc:
        raise InvalidRequestError(str(exc)) from None
    if grant.client.client_id not in hint.audience:
        raise InvalidRequestError("The id_token_hint was issued to another client.")
    return hint.subject


@bp.route(EndpointPath.AUTHORIZE, methods=["GET", "POST"])
def authorize() -> ResponseReturnValue:
    """The authorization endpoint (RFC 6749 §3.1, OpenID Connect Core §3.1.2): signs the person in,
    asks their consent, redirects with a code; POST carries the consent answer."""
    answering = _is_consent_answer()
    if answering and not csrf_ok():
        return error_page(*CSRF_FAILED)
    server = _server()
    signed_in = current_session()
    user = signed_in.user if signed_in is not None else None
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        if error.redirect_uri:
            return _to_client(server.authorization_error_response(error))
        return _invalid_request_page(error)
    grant.sign_in = signed_in  # a code records the sign-in (ID tokens' auth_time, sid, amr)
    state = grant.request.payload.state
    pending = AuthorizationRequest(_parameters(), _settings().secret_key)
    try:
        wanted = interaction(grant.request.payload.data)
        if asks_for_id_token(grant.request.scope or "") and not grant.request.payload.redirect_uri:
            raise InvalidRequestError("An OpenID Connect request must send its redirect_uri.")  # OIDC Core 3.1.2.1
        hinted = _hinted_subject(grant)
        someone_else = hinted is not None and user is not None and user.subject != hinted
        if _must_sign_in(signed_in, wanted, pending) or someone_else:
            # Signed in as another person than the hint names: sign in once more; if that is
            # still someone else, login_required (§3.1.2.1) rather than a loop.
            if wanted.silent or (someone_else and pending.sign_in_demanded_at() is not None):
                raise LoginRequiredError(redirect_uri=grant.redirect_uri, state=state)
            demand = wanted.may_demand_sign_in or someone_else
            next_url = pending.url_demanding_sign_in() if demand else pending.url()
            return redirect(url_for("login.login_page", next=next_url), 303)
        assert signed_in is not None and user is not None
        if not answering and not wanted.wants_consent and has_consent(user, grant.client, grant.request.scope):
            return _issue(server, grant, signed_in)
        if wanted.silent:
            raise ConsentRequiredError(redirect_uri=grant.redirect_uri, state=state)
    except OAuth2Error as error:
        error.redirect_uri, error.state = grant.redirect_uri, state
        return _to_client(server.authorization_error_response(error))
    if not answering:
        return _consent_page(user, grant, pending.url())
    return _decide(server, grant, signed_in, request.form.get("decision"))


def _issue(server: AuthorizationServer, grant: AuthorizationCodeGrant, signed_in: Session) -> Response:
    """The code for the signed-in person, and a note that this session's sign-in reached the
    client (back-channel logout tells it when the session ends)."""
    response: Response = server.create_authorization_response(grant_user=signed_in.user, grant=grant)
    record_session_client(signed_in.id, grant.client)
    return _to_client(response)


def _decide(
    server: AuthorizationServer, grant: AuthorizationCodeGrant, signed_in: Session, decision: str | None
) -> ResponseReturnValue:
    if decision == "allow":
        remember_consent(signed_in.user, grant.client, grant.request.scope)
        return _issue(server, grant, signed_in)
    if decision == "deny":  # access_denied back to the client (§4.1.2.1)
        return _to_client(server.create_authorization_response(grant_user=None, grant=grant))
    return error_page("Choose Allow or Deny", "The form did not say whether you allow this application.")


def _consent_page(user: User, grant: AuthorizationCodeGrant, action: str) -> ResponseReturnValue:
    client: Client = grant.client
    return render_template(
        "consent.html",
        user=user,
        client=client,
        scopes=describe(grant.request.scope),
        return_to=urlsplit(grant.redirect_uri).netloc or grant.redirect_uri,
        action=action,
        resources=describe_resources(client, grant.context.audience),
        self_registered=self_registered_notes(client),
    )
