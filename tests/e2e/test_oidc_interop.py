"""Interop: two independent relying parties that validate strictly run OpenID Connect against
the real server — discovery, code + PKCE + nonce, ID token validation, UserInfo, refresh and
RP-initiated logout: the Python ``oic`` package, and panva's ``openid-client`` under Node.js.

Each library checks the ID token's signature against the published JWKS, ``iss``, ``aud``,
``exp``, ``iat`` and the nonce itself; the tests check what the library hands its application.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from oic import rndstr
from oic.oic import Client as OicClient
from oic.oic.message import AuthorizationResponse, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from .authorize_flow import approve, query_of

pytestmark = pytest.mark.e2e

RP_DIR = Path(__file__).resolve().parent / "openid_client_rp"
REDIRECT = "http://127.0.0.1:8765/callback"
SIGNED_OUT = "http://127.0.0.1:8765/signed-out"
SCOPE = "openid profile email offline_access"
NAME, EMAIL = "Alice Example", "alice@example.com"


@pytest.fixture
def person(live_server, make_user) -> tuple[str, str, str]:
    """A person with a profile: (username, password, subject)."""
    username, password = make_user()
    done = live_server.cli("users", "update", username, "--name", NAME, "--email", EMAIL, "--email-verified")
    assert done.returncode == 0, done.stderr
    listed = json.loads(live_server.cli("users", "list", "--json").stdout)
    (user,) = [u for u in listed if u["username"] == username]
    return username, password, user["subject"]


def _signed_in(live_server, browser: requests.Session) -> bool:
    """Whether the browser's session still signs it in: the account page answers, or sends
    the browser to the login page."""
    page = browser.get(live_server.url + "/account", allow_redirects=False, timeout=10)
    return page.status_code == 200


def _log_out(browser: requests.Session, logout_url: str) -> str:
    """Follow the RP's logout URL as the browser would; returns where it is sent back to."""
    resp = browser.get(logout_url, allow_redirects=False, timeout=10)
    assert resp.status_code in (302, 303), resp.text
    return str(resp.headers["Location"])


@pytest.fixture(scope="session")
def openid_client() -> Path:
    """``rp.mjs`` with the locked openid-client installed beside it (``npm ci`` once)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("the openid-client interop test needs Node.js and npm (Debian: apt-get install nodejs npm)")
    lock = json.loads((RP_DIR / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/openid-client"]["version"]
    installed = RP_DIR / "node_modules" / "openid-client" / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != locked:
        done = subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=RP_DIR,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    return RP_DIR / "rp.mjs"


@pytest.fixture
def rp_process(openid_client: Path) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def _line(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, process.stderr.read() if process.stderr else "openid-client printed nothing"
    answer: dict[str, Any] = json.loads(line)
    assert "error" not in answer, answer
    return answer


def test_openid_client(live_server, make_client, person, openid_client, rp_process) -> None:
    username, password, subject = person
    client = make_client(name="Node RP", scope=SCOPE, grant_types=["authorization_code", "refresh_token"],
                         redirect_uris=[REDIRECT], post_logout_redirect_uris=[SIGNED_OUT], public=True)
    config = {"issuer": live_server.url, "client_id": client.client_id, "redirect_uri": REDIRECT,
              "post_logout_redirect_uri": SIGNED_OUT, "scope": SCOPE}
    process = subprocess.Popen(["node", str(openid_client), json.dumps(config)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rp_process.append(process)

    browser = requests.Session()
    landed = approve(_line(process)["authorization_url"], username, password, session=browser)
    assert process.stdin is not None
    process.stdin.write(landed + "\n")
    process.stdin.flush()
    result = _line(process)

    claims = result["claims"]
    assert claims["iss"] == live_server.url and claims["aud"] == client.client_id and claims["sub"] == subject
    assert {"auth_time", "sid", "at_hash", "nonce"} <= claims.keys()
    assert result["userinfo"] == {"sub": subject, "name": NAME, "preferred_username": username,
                                  "email": EMAIL, "email_verified": True,
                                  "updated_at": result["userinfo"]["updated_at"]}
    refreshed = result["refreshed_claims"]
    assert refreshed["sub"] == subject and refreshed["auth_time"] == claims["auth_time"]
    assert refreshed["sid"] == claims["sid"] and "nonce" not in refreshed

    assert _signed_in(live_server, browser)
    back = _log_out(browser, result["logout_url"])
    assert back.split("?")[0] == SIGNED_OUT and query_of(back)["state"] == result["logout_state"]
    assert not _signed_in(live_server, browser)


def test_oic(live_server, make_client, person) -> None:
    username, password, subject = person
    client = make_client(name="oic RP", scope=SCOPE, grant_types=["authorization_code", "refresh_token"],
                         redirect_uris=[REDIRECT], post_logout_redirect_uris=[SIGNED_OUT])
    rp = OicClient(client_authn_method=CLIENT_AUTHN_METHOD)
    provider = rp.provider_config(live_server.url)
    assert provider["issuer"] == live_server.url
    rp.store_registration_info(RegistrationResponse(client_id=client.client_id, client_secret=client.client_secret,
                                                    redirect_uris=[REDIRECT]))
    state, nonce = rndstr(), rndstr()
    rp.state2nonce[state] = nonce
    pkce, verifier = rp.add_code_challenge()
    request = rp.construct_AuthorizationRequest(request_args={
        "response_type": "code", "scope": SCOPE.split(), "redirect_uri": REDIRECT, "state": state, "nonce": nonce,
        **pkce,
    })

    browser = requests.Session()
    landed = approve(request.request(rp.authorization_endpoint), username, password, session=browser)
    answer = rp.parse_response(AuthorizationResponse, info=urlsplit(landed).query, sformat="urlencoded")
    assert answer["state"] == state

    tokens = rp.do_access_token_request(state=state, authn_method="client_secret_basic", request_args={
        "code": answer["code"], "code_verifier": verifier, "redirect_uri": REDIRECT,
    })
    id_token = tokens["id_token"]  # verified by oic: signature (JWKS), iss, aud, exp, iat, nonce
    assert id_token["sub"] == subject and id_token["nonce"] == nonce and id_token["aud"] == [client.client_id]

    userinfo = rp.do_user_info_request(state=state, method="GET")
    assert userinfo["sub"] == subject and userinfo["email"] == EMAIL and userinfo["name"] == NAME

    refreshed = rp.do_access_token_refresh(state=state, authn_method="client_secret_basic")
    assert refreshed["id_token"]["sub"] == subject
    assert refreshed["id_token"]["auth_time"] == id_token["auth_time"]

    logout = rp.construct_EndSessionRequest(state=state, request_args={
        "post_logout_redirect_uri": SIGNED_OUT, "state": "bye",
    })
    assert _signed_in(live_server, browser)
    back = _log_out(browser, logout.request(provider["end_session_endpoint"]))
    assert back.split("?")[0] == SIGNED_OUT and query_of(back)["state"] == "bye"
    assert not _signed_in(live_server, browser)
