"""Machine endpoints get no browser session; pages do."""

from __future__ import annotations

import pytest
from flask import Flask, session
from flask.sessions import NullSession

from authserver.web.endpoints import is_machine_endpoint


@pytest.mark.parametrize(("path", "machine"), [
    ("/oauth/token", True), ("/oauth/introspect", True), ("/oauth/revoke", True), ("/oauth/jwks", True),
    ("/.well-known/oauth-authorization-server", True),
    ("/oauth/authorize", False), ("/login", False), ("/", False), ("/oauth", False),
])
def test_machine_endpoints_are_the_oauth_paths_but_the_authorization_page(path: str, machine: bool) -> None:
    assert is_machine_endpoint(path) is machine


def test_a_session_cookie_is_not_opened_at_the_token_endpoint(app: Flask) -> None:
    with app.test_request_context("/login"):
        session["user_id"] = 1
        cookie = app.session_interface.get_signing_serializer(app).dumps(dict(session))  # type: ignore[attr-defined]
    headers = {"Cookie": f"{app.config['SESSION_COOKIE_NAME']}={cookie}"}
    with app.test_request_context("/oauth/token", method="POST", headers=headers):
        assert isinstance(session._get_current_object(), NullSession)  # type: ignore[attr-defined]
    with app.test_request_context("/oauth/authorize", headers=headers):
        assert session.get("user_id") == 1
