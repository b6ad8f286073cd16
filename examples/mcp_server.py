"""An MCP server (the official SDK's ``MCPServer``, streamable HTTP) protected by authserver tokens.

``GuardTokenVerifier`` checks each bearer token (JWTs locally, opaque tokens by introspection) and
accepts only tokens issued for this server's URL; the SDK's ``AuthSettings`` name the issuer, the
resource and the required scope, serve the RFC 9728 metadata and answer 401/403. Environment:
``ISSUER``, ``MCP_RESOURCE`` (this server's URL, the ``/mcp`` endpoint: the audience its tokens
must name), ``RS_CLIENT_ID`` / ``RS_CLIENT_SECRET`` (its introspection client)::

    export ISSUER=http://127.0.0.1:5000 MCP_RESOURCE=http://127.0.0.1:8004/mcp
    export RS_CLIENT_ID=... RS_CLIENT_SECRET=...  # authserver clients create --resource-server $MCP_RESOURCE
    .venv/bin/uvicorn --app-dir examples --factory mcp_server:create_app --port 8004
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from resource_guard.backends import BearerJWTBackend, IntrospectionBackend
from resource_guard.mcp import GuardTokenVerifier, StepUpChallenge, serve_root_metadata

REPORTS = [{"id": 1, "title": "Q3 revenue"}, {"id": 2, "title": "Q4 forecast"}]


def verifier() -> GuardTokenVerifier:
    issuer, resource = os.environ["ISSUER"], os.environ["MCP_RESOURCE"]
    return GuardTokenVerifier(
        [BearerJWTBackend(issuer=issuer, audience=resource),
         IntrospectionBackend(issuer=issuer, client_id=os.environ["RS_CLIENT_ID"],
                              client_secret=os.environ["RS_CLIENT_SECRET"], audience=resource)],
        resource=resource, required_scopes=["reports:read"])


def build_server(guard: GuardTokenVerifier, issuer: str) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("reports", instructions="Read the company's reports.",
                                       token_verifier=guard, auth=guard.auth_settings(issuer))
    serve_root_metadata(server, guard.protected_resource(issuer, resource_name="Reports (MCP)"))

    @server.tool(name="reports.list", description="List the reports this caller may read.")
    def list_reports() -> list[dict[str, Any]]:
        return REPORTS

    @server.tool(name="whoami", description="Who the bearer token says is calling.")
    def whoami() -> dict[str, Any]:
        token = get_access_token()
        assert token is not None  # the SDK's middleware let the request in
        return {"client_id": token.client_id, "subject": token.subject, "scopes": token.scopes}

    return server


def create_app() -> StepUpChallenge:
    guard = verifier()
    host = urlsplit(guard.resource).netloc
    # DNS-rebinding protection for the host clients use (the resource URL's), not only loopback
    security = TransportSecuritySettings(allowed_hosts=[host], allowed_origins=[f"{urlsplit(guard.resource).scheme}://{host}"])
    app = build_server(guard, os.environ["ISSUER"]).streamable_http_app(
        streamable_http_path=urlsplit(guard.resource).path or "/mcp", transport_security=security)
    return StepUpChallenge(app, guard.required_scopes)
