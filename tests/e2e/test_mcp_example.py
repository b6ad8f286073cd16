"""The MCP example end to end: the real authserver issues tokens over loopback, the example runs
under uvicorn as its docstring says, and the official SDK's own client (streamable HTTP +
``ClientSession``) initializes, lists and calls tools with them; the server refuses the rest."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import jwt as pyjwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.conftest import ROOT, LiveServer, stop_process, wait_until_answering
from tests.databases import free_port
from tests.e2e.test_resource_guard import _bearer, _token

pytestmark = pytest.mark.e2e
MakeClient = Callable[..., Any]  # tests.conftest.make_client
TIMEOUT = 20  # seconds for one whole MCP conversation


@dataclass
class McpExample:
    resource: str  # the /mcp endpoint: the URL tokens must be issued for
    base: str
    log_path: Path


@contextmanager
def running_mcp_example(issuer: LiveServer, directory: Path) -> Iterator[McpExample]:
    """The example under uvicorn, trusting ``issuer``, with its own introspection client."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    resource = base + "/mcp"
    rs = json.loads(issuer.cli("clients", "create", "--name", "mcp-reports", "--resource-server", resource,
                               "--json").stdout)
    env = {**issuer.env, "ISSUER": issuer.url, "MCP_RESOURCE": resource,
           "RS_CLIENT_ID": rs["client_id"], "RS_CLIENT_SECRET": rs["client_secret"]}
    log_path = directory / "uvicorn.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", "examples", "--factory", "mcp_server:create_app",
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=ROOT, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    try:
        wait_until_answering(proc, base + "/.well-known/oauth-protected-resource/mcp", log_path)
        yield McpExample(resource, base, log_path)
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def mcp_example(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpExample]:
    with running_mcp_example(live_server, tmp_path_factory.mktemp("mcp")) as example:
        yield example


def _converse(url: str, token: str, statuses: list[int] | None = None) -> dict[str, Any]:
    """What the SDK's client sees: the server's name, its tools, two tool results (and, into
    ``statuses``, the HTTP status of each answer)."""
    async def record(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    async def main() -> dict[str, Any]:
        async with (httpx2.AsyncClient(headers=_bearer(token), timeout=10,
                                       event_hooks={"response": [record]}) as http,
                    streamable_http_client(url, http_client=http) as (read, write),
                    ClientSession(read, write) as session):
            init = await session.initialize()
            tools = await session.list_tools()
            reports = await session.call_tool("reports.list", {})
            whoami = await session.call_tool("whoami", {})
            return {"server": init.server_info.name, "tools": sorted(t.name for t in tools.tools),
                    "reports": reports.structured_content, "whoami": whoami.structured_content,
                    "error": reports.is_error or whoami.is_error}

    return asyncio.run(asyncio.wait_for(main(), TIMEOUT))


def _post(url: str, token: str | None) -> requests.Response:
    """An MCP initialize request as the SDK sends it, with ``token`` (or none)."""
    headers = {"Accept": "application/json, text/event-stream", **(_bearer(token) if token is not None else {})}
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "probe", "version": "1"}}}
    return requests.post(url, json=body, headers=headers, timeout=5)


@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
def test_the_sdk_client_lists_and_calls_tools_with_a_token_for_this_server(
        live_server: LiveServer, mcp_example: McpExample, make_client: MakeClient, token_format: str) -> None:
    client = make_client(scope="reports:read", audiences=[mcp_example.resource], token_format=token_format)
    seen = _converse(mcp_example.resource, _token(live_server, client))
    assert seen["server"] == "reports" and seen["tools"] == ["reports.list", "whoami"] and not seen["error"]
    assert seen["reports"] == {"result": [{"id": 1, "title": "Q3 revenue"}, {"id": 2, "title": "Q4 forecast"}]}
    assert seen["whoami"]["client_id"] == client.client_id and seen["whoami"]["scopes"] == ["reports:read"]


def test_without_a_token_the_401_names_the_metadata_and_the_scope(live_server: LiveServer,
                                                                  mcp_example: McpExample) -> None:
    refused = _post(mcp_example.resource, None)
    assert refused.status_code == 401
    challenge = refused.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'scope="reports:read"' in challenge
    metadata_url = mcp_example.base + "/.well-known/oauth-protected-resource/mcp"
    assert f'resource_metadata="{metadata_url}"' in challenge
    for url in (metadata_url, mcp_example.base + "/.well-known/oauth-protected-resource"):
        document = requests.get(url, timeout=5)
        assert document.status_code == 200, url
        assert document.json()["resource"] == mcp_example.resource
        assert document.json()["authorization_servers"] == [live_server.url]  # exactly the issuer: RFC 8414
        assert document.json()["scopes_supported"] == ["reports:read"]


def test_tokens_for_another_audience_forged_or_expired_are_refused(live_server: LiveServer, mcp_example: McpExample,
                                                                   make_client: MakeClient) -> None:
    other = "https://other.example/mcp"
    real = _token(live_server, make_client(scope="reports:read", audiences=[mcp_example.resource]))
    claims = pyjwt.decode(real, options={"verify_signature": False})
    header = {"kid": pyjwt.get_unverified_header(real)["kid"], "typ": "at+jwt"}
    stranger = ec.generate_private_key(ec.SECP256R1())
    attacks = {
        "another audience": _token(live_server, make_client(scope="reports:read", audiences=[other])),
        "another audience, opaque": _token(live_server, make_client(scope="reports:read", audiences=[other],
                                                                    token_format="opaque")),
        "forged": pyjwt.encode(claims, stranger, "ES256", headers=header),
        "expired, re-signed": pyjwt.encode({**claims, "exp": int(time.time()) - 60}, stranger, "ES256",
                                           headers=header),
        "garbage": "not-a-token",
    }
    for name, token in attacks.items():
        refused = _post(mcp_example.resource, token)
        assert refused.status_code == 401, name
        assert 'resource_metadata="' in refused.headers["WWW-Authenticate"], name
    statuses: list[int] = []
    with pytest.raises(BaseExceptionGroup) as failed:  # the SDK's client gives up on the 401
        _converse(mcp_example.resource, attacks["another audience"], statuses)
    assert failed.group_contains(MCPError, depth=2) and statuses == [401]
    assert _post(mcp_example.resource, real).status_code == 200  # the same request with a good token


def test_a_token_without_the_scope_gets_403_naming_it(live_server: LiveServer, mcp_example: McpExample,
                                                       make_client: MakeClient) -> None:
    weak = _token(live_server, make_client(scope="profile", audiences=[mcp_example.resource]))
    refused = _post(mcp_example.resource, weak)
    challenge = refused.headers["WWW-Authenticate"]
    assert refused.status_code == 403 and 'error="insufficient_scope"' in challenge
    assert 'scope="reports:read"' in challenge and "resource_metadata=" in challenge
