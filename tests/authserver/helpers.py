"""Small helpers for driving the OAuth endpoints through Flask's test client."""

from __future__ import annotations

import base64
from typing import Any

from flask import Flask
from werkzeug.test import TestResponse


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def token(app: Flask, creds: tuple[str, str], **form: Any) -> TestResponse:
    form.setdefault("grant_type", "client_credentials")
    return app.test_client().post("/oauth/token", data=form, headers=basic(*creds))


def introspect(app: Flask, creds: tuple[str, str], value: str, **form: Any) -> TestResponse:
    return app.test_client().post("/oauth/introspect", data={"token": value, **form}, headers=basic(*creds))


def revoke(app: Flask, creds: tuple[str, str], value: str, **form: Any) -> TestResponse:
    return app.test_client().post("/oauth/revoke", data={"token": value, **form}, headers=basic(*creds))
