"""Which paths serve programs and which serve people.

The OAuth endpoints other than ``/oauth/authorize`` and ``/oauth/logout`` (token,
introspection, revocation, UserInfo, JWKS, metadata) and the health probes answer programs:
JSON errors, and no browser session. Everything else is a page.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from ..oauth.names import MACHINE_PREFIXES, PAGE_PATHS


def is_machine_endpoint(path: str) -> bool:
    return path.startswith(MACHINE_PREFIXES) and path not in PAGE_PATHS


class PageSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened for pages only.

    A machine endpoint never reads the session, and a browser cookie must have no say in
    what it does; skipping it also spares every token request building the cookie signer.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if is_machine_endpoint(request.path):
            return self.make_null_session(app)
        return super().open_session(app, request)
