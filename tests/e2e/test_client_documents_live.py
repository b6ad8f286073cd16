"""A Client ID Metadata Document client against the real server under gunicorn: the settings
come from the environment, the worker fetches the document over HTTPS trusting the test CA
named by ``SSL_CERT_FILE``, and the token's ``aud`` is the resource registered with
``authserver resources create``."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from tests.authserver.tls_server import DocumentServer, Route
from tests.conftest import LiveServer, start_server, stop_server
from tests.databases import free_port

from .authorize_flow import Callback, approve, callback_listener, pkce_pair, query_of

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    server = DocumentServer(tmp_path_factory.mktemp("cimd-live-tls"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def cimd_server(migrated_app: Any, server_settings: dict[str, Any], documents: DocumentServer,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = {**server_settings, "issuer": f"http://127.0.0.1:{free_port()}",
                "client_id_metadata_documents": "on", "cimd_allowed_hosts": "localhost"}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SSL_CERT_FILE", str(documents.ca_file))  # the server's environment, as an operator sets it
        server = start_server(settings, tmp_path_factory.mktemp("cimd-live") / "server.log", workers=1)
    yield server
    stop_server(server)


@pytest.fixture
def callback() -> Iterator[Callback]:
    with callback_listener() as cb:
        yield cb


def _aud(access_token: str) -> Any:
    payload = access_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["aud"]


def test_a_document_client_signs_a_person_in_and_gets_a_token_for_the_resource(
        cimd_server: LiveServer, documents: DocumentServer, callback: Callback, make_user) -> None:
    resource = f"https://mcp-{uuid.uuid4().hex[:8]}.example/mcp"
    created = cimd_server.cli("resources", "create", resource, "--scope", "weather:read", "--name", "Weather",
                              "--json")
    assert created.returncode == 0, created.stderr
    path = f"/live/{uuid.uuid4().hex}.json"
    client_id = documents.url(path)
    documents.routes[path] = Route(json.dumps({
        "client_id": client_id, "client_name": "Live agent", "redirect_uris": [callback.redirect_uri],
        "grant_types": ["authorization_code"], "token_endpoint_auth_method": "none"}).encode())

    metadata = requests.get(cimd_server.url + "/.well-known/oauth-authorization-server", timeout=10).json()
    assert metadata["client_id_metadata_document_supported"] is True

    verifier, challenge = pkce_pair()
    url = cimd_server.url + "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": callback.redirect_uri, "state": "live",
        "code_challenge": challenge, "code_challenge_method": "S256", "resource": resource, "scope": "weather:read"})
    back = approve(url, *make_user())
    params = query_of(back)
    assert back.startswith(callback.redirect_uri) and params["state"] == "live", back
    assert path in documents.requests

    token = requests.post(cimd_server.url + "/oauth/token", data={
        "grant_type": "authorization_code", "code": params["code"], "client_id": client_id,
        "redirect_uri": callback.redirect_uri, "code_verifier": verifier, "resource": resource}, timeout=10)
    assert token.status_code == 200, token.text
    assert _aud(token.json()["access_token"]) == resource
    assert token.json()["scope"] == "weather:read"


def test_a_private_address_client_id_gets_an_error_page_from_the_real_server(cimd_server: LiveServer) -> None:
    url = cimd_server.url + "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": "https://169.254.169.254/latest/meta-data/client.json",
        "redirect_uri": "http://127.0.0.1:9/callback", "code_challenge": "x" * 43, "code_challenge_method": "S256"})
    resp = requests.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert "accepts metadata documents only from the hosts it allows" in resp.text
