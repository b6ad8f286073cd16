"""Who is signed in at the authorization endpoint, for at most ``session_ttl`` seconds.

The browser session is Flask's signed cookie. Its lifetime is bounded absolutely from the
moment of login (``auth_time``), not refreshed by activity, and a disabled user is signed
out at their next request.
"""

from __future__ import annotations

import time

from flask import session

from ..appstate import state
from ..extensions import db
from ..models import User


def current_user() -> User | None:
    user_id = session.get("user_id")
    auth_time = session.get("auth_time")
    if not isinstance(user_id, int) or not isinstance(auth_time, int):
        return None
    age = time.time() - auth_time
    if not 0 <= age < state().settings.session_ttl:
        session.clear()
        return None
    user = db.session.get(User, user_id)
    return user if user is not None and user.is_active else None


def log_in(user: User) -> None:
    """A fresh session (and CSRF token) at login, so nothing set before it carries over."""
    session.clear()
    session.permanent = True
    session["user_id"] = user.id
    session["auth_time"] = int(time.time())


def log_out() -> None:
    session.clear()
