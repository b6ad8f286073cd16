"""Refusing malformed requests at the OAuth endpoints before Authlib sees them.

Clients send broken things: JSON bodies, repeated parameters, binary junk, credentials in
the query string, Authorization headers that are not Basic. Each gets an RFC 6749 §5.2
error naming the problem, never a 500.
"""

from __future__ import annotations

import base64
import binascii
from itertools import chain

from flask import Request, request
from flask.typing import ResponseReturnValue

from ..oauth.grants import MAX_RESOURCES
from .endpoints import is_machine_endpoint
from .errors import OAuthErrorResponse
from .pages import error_page

FORM = "application/x-www-form-urlencoded"


def check_form_request(request: Request, max_bytes: int) -> None:
    """Raise ``OAuthErrorResponse`` unless this is a clean form POST (RFC 6749 §3.2, §2.3.1)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise OAuthErrorResponse("invalid_request", "The request body is too large.", 413)
    if request.mimetype != FORM:
        raise OAuthErrorResponse("invalid_request", f"Send parameters as {FORM}.")
    if request.args:
        raise OAuthErrorResponse("invalid_request", "Send parameters in the request body, not in the URL.")
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        raise OAuthErrorResponse("invalid_request", "The request body is too large.", 413)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OAuthErrorResponse("invalid_request", "The request body is not valid UTF-8.") from None
    for key, values in request.form.lists():
        if len(values) > 1 and key != "resource":
            raise OAuthErrorResponse("invalid_request", f"The parameter {key} is repeated.")
        if key == "resource" and len(values) > MAX_RESOURCES:  # before any lookup (RFC 8707 §2)
            raise OAuthErrorResponse(
                "invalid_target", f"At most {MAX_RESOURCES} resource parameters may be sent in one request.")
        if any("\x00" in v for v in values):
            raise OAuthErrorResponse("invalid_request", f"The parameter {key} contains a NUL byte.")
    if "client_assertion" in request.form and "client_secret" in request.form:
        raise OAuthErrorResponse("invalid_request", "Use one client authentication method, not two.")
    check_authorization_header(request)


def check_authorization_header(request: Request) -> None:
    header = request.headers.get("Authorization")
    if header is None:
        return
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthErrorResponse("invalid_client", "Authenticate the client with HTTP Basic.", 401)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthErrorResponse(
            "invalid_client", "The Basic credentials are not valid base64 of UTF-8.", 401
        ) from None
    if ":" not in decoded:
        raise OAuthErrorResponse("invalid_client", "The Basic credentials must be client_id:client_secret.", 401)
    form_client_id = request.form.get("client_id")
    other_method = "client_secret" in request.form or "client_assertion" in request.form
    if other_method or (form_client_id is not None and form_client_id != decoded.split(":")[0]):
        raise OAuthErrorResponse("invalid_request", "Use one client authentication method, not two.")


def refuse_nul_bytes_on_pages() -> ResponseReturnValue | None:
    """No page parameter (authorization request, login or consent form) holds a NUL byte;
    PostgreSQL refuses one in any query, so it is turned away before a read, with a page.
    (The machine endpoints refuse it in ``check_form_request``, as RFC 6749 JSON.)"""
    if is_machine_endpoint(request.path):
        return None
    pairs = chain(request.args.items(multi=True), request.form.items(multi=True))
    if any("\x00" in key or "\x00" in value for key, value in pairs):
        return error_page("This request is not valid", "A parameter holds a NUL byte.")
    return None
