"""CORS for the endpoints browser code calls: token, revocation, UserInfo, registration, JWKS
and metadata.

Only the origins listed in ``cors_allowed_origins`` are answered (ORY Hydra's
``serve.public.cors``); with none listed, nothing is installed and requests pay nothing.
``Access-Control-Allow-Credentials`` is never sent: these endpoints read no cookie, and a
client authenticates in the body or an ``Authorization`` header the page sets itself.

Introspection (RFC 7662) is left out on purpose: its callers are resource servers holding
their own credentials, which have no place in a browser, and its answers describe other
parties' tokens. The pages (authorization, sign-in, account) are navigated to, never
fetched, so they stay same-origin too.
"""

from __future__ import annotations

from flask import Flask, Response, request

from ..oauth.names import EndpointPath

# The methods each browser-callable endpoint answers; every /.well-known/ document is a GET.
METHODS: dict[str, str] = {
    EndpointPath.TOKEN: "POST",
    EndpointPath.REVOKE: "POST",
    EndpointPath.JWKS: "GET",
    EndpointPath.METADATA: "GET",
    EndpointPath.USERINFO: "GET, POST",  # OpenID Connect Core §5.3.1: both
    EndpointPath.REGISTER: "POST",  # RFC 7591: a browser-based client (an MCP web client) registers
}
# RFC 7592: the registration's own URL, /oauth/register/<client_id>.
MANAGEMENT_PREFIX = EndpointPath.REGISTER + "/"
MANAGEMENT_METHODS = "GET, PUT, DELETE"
WELL_KNOWN = "/.well-known/"
ALLOW_HEADERS = "Authorization, Content-Type"
# What a page's fetch() may read beyond the safelisted headers: the challenge of a 401 and
# the wait of a 503.
EXPOSE_HEADERS = "WWW-Authenticate, Retry-After"
# Chromium caps a preflight cache at two hours; ten minutes lets a change of the list reach
# browsers soon.
MAX_AGE = "600"


def method_for(path: str) -> str | None:
    """The method browser code may use at ``path``, or ``None`` where CORS is never answered."""
    if path.startswith(MANAGEMENT_PREFIX):
        return MANAGEMENT_METHODS
    return METHODS.get(path) or ("GET" if path.startswith(WELL_KNOWN) else None)


class Cors:
    """The preflight answer and the response headers, for one list of origins."""

    def __init__(self, origins: frozenset[str]) -> None:
        self.origins = origins

    def allowed(self) -> str | None:
        """The request's origin if it is listed and the path is browser-callable."""
        origin = request.headers.get("Origin")
        if origin in self.origins and method_for(request.path):
            return origin
        return None

    def preflight(self) -> Response | None:
        """The Fetch standard's CORS preflight: 204 for a listed origin asking for the path's
        method; anything else falls through to Flask's plain OPTIONS answer, which carries no
        ``Access-Control-Allow-Origin``, so the browser refuses the request it was asking for."""
        if request.method != "OPTIONS":
            return None
        origin, method = self.allowed(), method_for(request.path)
        if not origin or not method or request.headers.get("Access-Control-Request-Method") not in method.split(", "):
            return None
        return Response(status=204, headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": method,
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": MAX_AGE,
        })

    def add_headers(self, response: Response) -> Response:
        """Every answer of a browser-callable path varies by ``Origin`` (a shared cache must
        not hand one origin's answer to another); a listed origin may read it, errors too."""
        if not method_for(request.path):
            return response
        response.vary.add("Origin")
        origin = self.allowed()
        if origin and request.method != "OPTIONS":  # a preflight answered itself, above
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        return response


def init_app(app: Flask, origins: frozenset[str]) -> None:
    """Install CORS when origins are listed; with none, install nothing."""
    if not origins:
        return
    cors = Cors(origins)
    app.before_request(cors.preflight)
    app.after_request(cors.add_headers)
