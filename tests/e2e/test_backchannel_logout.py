"""Back-Channel Logout 1.0 against the real server (gunicorn, two workers): a person signs in
to a client over HTTP and logs out; the worker thread in a server process POSTs a logout
token to the client's endpoint (a real loopback receiver), which verifies it with PyJWT
against the server's JWKS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import requests

from tests.logout_receiver import Receiver, fetch_jwks, logout_receiver, verified_logout_token

from .authorize_flow import approve, pkce_pair, query_of

pytestmark = pytest.mark.e2e

REDIRECT = "https://rp.example/callback"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with logout_receiver() as found:
        yield found


def _csrf(http: requests.Session, url: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', http.get(url, timeout=10).text)
    assert found
    return found.group(1)


def test_logout_reaches_the_client_by_back_channel(live_server, make_client, make_user, receiver: Receiver) -> None:
    client = make_client(name="Listens for logouts", scope="reports:read", grant_types=["authorization_code"],
                         redirect_uris=[REDIRECT], backchannel_logout_uri=receiver.uri)
    username, password = make_user()
    http = requests.Session()
    url = live_server.url + "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": client.client_id, "redirect_uri": REDIRECT, "state": "s",
        "code_challenge": pkce_pair()[1], "code_challenge_method": "S256"})
    assert "code" in query_of(approve(url, username, password, session=http))

    logout = http.post(live_server.url + "/logout", data={"csrf_token": _csrf(http, live_server.url + "/account")},
                       allow_redirects=False, timeout=10)
    assert logout.status_code == 303  # answered at once; delivery is the worker's

    [delivery] = receiver.wait_for(1)
    assert delivery.content_type == "application/x-www-form-urlencoded"
    claims = verified_logout_token(delivery.logout_token, fetch_jwks(live_server.url), live_server.url,
                                   client.client_id)
    assert claims["sub"].startswith("user:")
    assert delivery.logout_token not in live_server.log_text()
