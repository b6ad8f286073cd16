"""The typed state one app shares with its views and commands, and the one way to reach it.

``create_app`` builds an ``AppState`` and keeps it in ``app.extensions``; everything else asks
``state()`` (flaskr's ``get_db()`` idea), so the lookup and its type live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from .changes import Changes
    from .config import Settings
    from .metrics import Metrics
    from .oauth.keys import KeyRing
    from .oauth.server import AuthorizationServer
    from .oauth.tokens import TokenService
    from .people.throttle import FailureLimiter
    from .secrets import SecretHasher

EXTENSION = "authserver"


@dataclass
class AppState:
    """What the views and commands of one app share."""

    settings: Settings
    hasher: SecretHasher
    keys: KeyRing
    tokens: TokenService
    server: AuthorizationServer
    login_limiter: FailureLimiter
    registration_limiter: FailureLimiter
    metrics: Metrics
    changes: Changes

    def install(self, app: Flask) -> None:
        app.extensions[EXTENSION] = self


def state(app: Flask | None = None) -> AppState:
    """The state of ``app``, by default the current one (inside an app or request context)."""
    found = (app or current_app).extensions[EXTENSION]
    assert isinstance(found, AppState), "create_app() installs the authserver state"
    return found
