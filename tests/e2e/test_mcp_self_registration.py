"""The official MCP SDK's OAuth client meets the MCP example protected by resource_guard, with
nothing configured by hand: it follows RFC 9728 from the server's 401 to authserver, registers
itself — once with a Client ID Metadata Document served over local HTTPS (a test CA trusted
through ``SSL_CERT_FILE``), once through RFC 7591 — runs PKCE with RFC 8707 ``resource``
through the real login and consent pages in headless chromium, and calls a tool."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from tests.authserver.tls_server import DocumentServer, Route
from tests.conftest import LiveServer, start_server, stop_server
from tests.databases import free_port

from .authorize_flow import Callback
from .test_browser_flow import _sign_in
from .test_mcp_example import McpExample, running_mcp_example

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
TIMEOUT = 30  # seconds for discovery, registration, the pages and one tool call
SCOPE = "reports:read"


@dataclass
class Setting:
    server: LiveServer
    documents: DocumentServer
    mcp: McpExample


@pytest.fixture(scope="module")
def setting(server_settings: dict[str, Any], migrated_app, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Setting]:
    """authserver with self-registration on (both kinds), trusting the test CA, and the MCP
    example registered as a protected resource whose scope a self-registered client may ask."""
    directory = tmp_path_factory.mktemp("self-registration")
    documents = DocumentServer(directory)
    settings = {**server_settings, "issuer": f"http://127.0.0.1:{free_port()}",
                "dynamic_registration": "open", "client_id_metadata_documents": "on",
                "cimd_allowed_hosts": "localhost"}
    server = start_server(settings, directory / "server.log", extra_env={"SSL_CERT_FILE": str(documents.ca_file)})
    try:
        with running_mcp_example(server, directory) as mcp:
            done = server.cli("resources", "create", mcp.resource, "--scope", SCOPE, "--name", "Reports (MCP)")
            assert done.returncode == 0, done.stderr
            yield Setting(server, documents, mcp)
    finally:
        stop_server(server)
        documents.close()


class MemoryStorage:
    """The SDK's ``TokenStorage``, kept in memory for one conversation."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def _converse_as_a_person(resource: str, redirect_uri: str, client_metadata_url: str | None,
                          person: Callable[[str], dict[str, str]]) -> tuple[dict[str, Any], MemoryStorage]:
    """Run the SDK's client in its own thread; ``person`` gets the authorization URL it opens
    and returns the query the browser landed on. Returns ``whoami``'s answer."""
    opened: queue.Queue[str] = queue.Queue()
    landed: queue.Queue[dict[str, str]] = queue.Queue()
    storage = MemoryStorage()

    async def redirect_handler(url: str) -> None:
        opened.put(url)

    async def callback_handler() -> AuthorizationCodeResult:
        answer = await asyncio.to_thread(landed.get, True, TIMEOUT)
        return AuthorizationCodeResult(code=answer["code"], state=answer.get("state"), iss=answer.get("iss"))

    provider = OAuthClientProvider(
        server_url=resource,
        client_metadata=OAuthClientMetadata(redirect_uris=[redirect_uri], client_name="Reports MCP client",  # type: ignore[list-item]
                                            grant_types=["authorization_code", "refresh_token"],
                                            token_endpoint_auth_method="none", scope=SCOPE),
        storage=storage, redirect_handler=redirect_handler, callback_handler=callback_handler,
        client_metadata_url=client_metadata_url,
    )

    async def conversation() -> dict[str, Any]:
        async with (httpx2.AsyncClient(auth=provider, timeout=TIMEOUT) as http,
                    streamable_http_client(resource, http_client=http) as (read, write),
                    ClientSession(read, write) as session):
            await session.initialize()
            whoami = await session.call_tool("whoami", {})
            assert not whoami.is_error, whoami
            assert whoami.structured_content is not None
            return whoami.structured_content

    outcome: list[dict[str, Any] | BaseException] = []

    def run() -> None:
        try:
            outcome.append(asyncio.run(asyncio.wait_for(conversation(), TIMEOUT)))
        except BaseException as error:  # handed to the test's thread below
            outcome.append(error)
            opened.put("")  # unblock the person if the client failed before opening the page

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    url = opened.get(timeout=TIMEOUT)
    if url:
        landed.put(person(url))
    thread.join(TIMEOUT)
    assert outcome, "the MCP client did not finish"
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0], storage


def _person(page, make_user, resource: str, callback: Callback, seen: list[str]) -> Callable[[str], dict[str, str]]:
    username, password = make_user()

    def sign_in_and_allow(url: str) -> dict[str, str]:
        page.goto(url)
        _sign_in(page, username, password)
        page.get_by_role("button", name="Allow").wait_for()
        seen.append(page.inner_text("main"))
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(callback.redirect_uri + "?**")
        return callback.received[-1]

    return sign_in_and_allow


def _granted(whoami: dict[str, Any]) -> bool:
    """The SDK asks for the server's scope, and for offline_access where the authorization
    server offers it (a refresh token: OIDC Core 11); nothing else is granted."""
    return SCOPE in whoami["scopes"] and set(whoami["scopes"]) <= {SCOPE, "offline_access"}


def test_client_id_metadata_document(setting: Setting, page, make_user, callback: Callback) -> None:
    client_id = setting.documents.url("/mcp/client.json")
    setting.documents.routes["/mcp/client.json"] = Route(json.dumps({
        "client_id": client_id, "client_name": "Reports MCP client", "redirect_uris": [callback.redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }).encode())
    consent: list[str] = []
    whoami, storage = _converse_as_a_person(setting.mcp.resource, callback.redirect_uri, client_id,
                                            _person(page, make_user, setting.mcp.resource, callback, consent))
    assert whoami["client_id"] == client_id and _granted(whoami)
    assert whoami["subject"].startswith("user:")
    assert "/mcp/client.json" in setting.documents.requests  # authserver fetched the document itself
    assert setting.mcp.resource in consent[0] and "127.0.0.1" in consent[0]
    assert storage.client is not None and storage.client.client_id == client_id


def test_dynamic_client_registration(setting: Setting, page, make_user, callback: Callback) -> None:
    consent: list[str] = []
    whoami, storage = _converse_as_a_person(setting.mcp.resource, callback.redirect_uri, None,
                                            _person(page, make_user, setting.mcp.resource, callback, consent))
    assert storage.client is not None and storage.client.client_id == whoami["client_id"]
    assert _granted(whoami) and whoami["subject"].startswith("user:")
    assert setting.mcp.resource in consent[0]
    listed = json.loads(setting.server.cli("clients", "list", "--json").stdout)
    (mine,) = [c for c in listed if c["client_id"] == whoami["client_id"]]
    assert mine["registered_by"] == "self"
