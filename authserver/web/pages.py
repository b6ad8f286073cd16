"""What every HTML page shares (security headers, the CSRF token in templates, error pages),
and the home page that says what this server is."""

from __future__ import annotations

from flask import Flask, Response, render_template

from ..appstate import state
from .csrf import csrf_token
from .endpoints import PageSessions

# No third-party origin anywhere; no framing (RFC 9700 §4.16 clickjacking); no inline script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # Authorization URLs carry state and PKCE challenges; never hand them to another site.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html":
        # Pages hold CSRF tokens and personal data: never cached (RFC 6749 §10.3 spirit).
        response.headers["Cache-Control"] = "no-store"
    return response


def error_page(title: str, message: str, status: int = 400, detail: str | None = None) -> tuple[str, int]:
    return render_template("error.html", title=title, message=message, detail=detail), status


def home() -> str:
    """What this server is, its issuer, and links to its metadata and the account page."""
    return render_template("home.html", issuer=state().settings.issuer)


def init_app(app: Flask) -> None:
    app.session_interface = PageSessions()
    app.add_url_rule("/", "home", home, methods=["GET"])
    app.after_request(add_security_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
