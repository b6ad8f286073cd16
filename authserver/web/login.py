"""Signing in and out: the login form (inputs ``username`` and ``password``) and logout.

Login sends the person back to the authorization request that needed it (``next``), and
only there: ``next`` must be a path on this server's ``/oauth/authorize``, so the form
cannot be turned into an open redirect. That request's ``login_hint`` prefills the username.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ..appstate import state
from ..audit import Actor, EventType, record
from ..extensions import db
from ..models.users import USERNAME_LENGTH, User, user_named, username_key
from ..people.passwords import verify_password
from .auth_request import demands_sign_in, login_hint
from .csrf import csrf_ok
from .pages import error_page
from .session import current_user, log_in, log_out

bp = Blueprint("login", __name__)

AUTHORIZE_PATH = "/oauth/authorize"
CSRF_FAILED = (
    "This form expired or did not come from this site.",
    "Go back, reload the page and try again.",
)


def safe_next(value: str | None) -> str | None:
    """``value`` if it is a relative URL of the authorization endpoint, else None."""
    if not value or "\\" in value or any(ord(c) < 0x20 for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path != AUTHORIZE_PATH:
        return None
    return value


def _client_name(next_url: str | None) -> str | None:
    """The name of the client a pending authorization request is for, to greet the user."""
    if next_url is None:
        return None
    client_id = parse_qs(urlsplit(next_url).query).get("client_id", [""])[0]
    client = state().server.query_client(client_id)
    return client.name if client is not None else None


def _login_form(
    next_url: str | None, error: str | None = None, username: str = "", status: int = 200,
    headers: dict[str, str] | None = None,
) -> ResponseReturnValue:
    page = render_template(
        "login.html",
        next_url=next_url,
        client_name=_client_name(next_url),
        error=error,
        username=username,
        signed_out=request.args.get("signed_out") == "1",
    )
    return page, status, headers or {}


@bp.get("/login")
def login_page() -> ResponseReturnValue:
    """The sign-in form.

    A person already signed in goes on, unless the request they came from demands a fresh
    sign-in (``prompt=login``, ``max_age``): then the form, prefilled with who they are."""
    next_url = safe_next(request.args.get("next"))
    user = current_user()
    if user is not None and not demands_sign_in(next_url):
        return redirect(next_url or url_for("account.account_page"))
    return _login_form(next_url, username=login_hint(next_url) or (user.username if user else ""))


@bp.post("/login")
def login() -> ResponseReturnValue:
    """The sign-in form's answer: the password checked (throttled per name and address), a server-side session begun."""
    if not csrf_ok():
        return error_page(*CSRF_FAILED)
    next_url = safe_next(request.form.get("next"))
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    app_state = state()
    limiter = app_state.login_limiter
    account = username_key(username)  # "Alice" and "alice" share one budget, as one account
    wait = limiter.reserve(account, request.remote_addr)
    if wait is not None:  # counted before the password is checked, so a burst gets no more
        app_state.metrics.sign_in("throttled")
        _record_refusal(EventType.USER_LOCKED_OUT, _named(username), retry_after=wait)
        message = f"Too many failed sign-ins. Try again in {wait} seconds."
        return _login_form(next_url, message, username, 429, {"Retry-After": str(wait)})
    user = _named(username)
    # Always verify (a dummy hash for unknown users) so timing does not reveal who exists.
    valid = verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        app_state.metrics.sign_in("failure")
        reason = "unknown_user" if user is None else "wrong_password" if not valid else "user_disabled"
        _record_refusal(EventType.USER_SIGN_IN_FAILED, user, reason=reason)
        return _login_form(next_url, "That username and password do not match an account.", username, 400)
    limiter.release(account, request.remote_addr)  # a right password does not spend the budget
    app_state.metrics.sign_in("success")
    log_in(user)
    return redirect(next_url or url_for("login.login_page"), 303)


def _named(username: str) -> User | None:
    return db.session.scalar(user_named(username)) if 0 < len(username) <= USERNAME_LENGTH else None


def _record_refusal(type: EventType, user: User | None, **details: Any) -> None:
    """A refused sign-in, in its own transaction. What was typed as a name is kept only when
    it names an account: a password typed in the wrong box never reaches the trail."""
    record(type, Actor.USER if user else Actor.ANONYMOUS, user=user.username if user else None, **details)
    db.session.commit()


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out here: the session ends, and clients with a back-channel logout URI hear of it."""
    if not csrf_ok():
        return error_page(*CSRF_FAILED)
    log_out()
    return redirect(url_for("login.login_page", signed_out=1), 303)
