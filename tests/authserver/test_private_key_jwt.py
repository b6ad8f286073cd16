"""private_key_jwt (RFC 7523 §2.2/§3): clients that sign their own assertions, with keys
registered inline or at a ``jwks_uri``, at the token, introspection and revocation endpoints;
and the assertions an attacker would try. Assertions are made with PyJWT, independently of
the server's code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt as pyjwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask
from werkzeug.test import TestResponse

from authserver import create_app
from authserver.appstate import state
from authserver.clients.metadata import ClientMetadata
from authserver.clients.registry import register_client
from authserver.extensions import db
from authserver.models import Client
from authserver.models.clients import BY_ADMIN, BY_DOCUMENT, BY_SELF
from authserver.oauth.client_keys import REFETCH_INTERVAL, ClientKeys, KeySetRefused
from authserver.oauth.names import CLIENT_ASSERTION_TYPE

from .helpers import basic
from .tls_server import DocumentServer, Route, loopback

KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
WEAK_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)


def public_jwk(key: Any, kid: str) -> dict[str, Any]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        jwk: dict[str, Any] = pyjwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        jwk = pyjwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid}


JWKS = {"keys": [public_jwk(KEY, "k1"), public_jwk(RSA_KEY, "r1")]}


def register(app: Flask, *, jwks: dict[str, Any] | None = JWKS, jwks_uri: str | None = None,
             grant_types: tuple[str, ...] = ("client_credentials",), registered_by: str = BY_ADMIN) -> str:
    metadata = ClientMetadata(
        client_name="keyed", grant_types=grant_types, scope="reports:read",
        token_endpoint_auth_method="private_key_jwt", jwks=None if jwks_uri else jwks, jwks_uri=jwks_uri,
    )
    with app.app_context():
        client, secret = register_client(state(app).hasher, metadata, registered_by=registered_by)
        assert secret is None  # a client with a key has no secret
        return client.client_id


def issuer(app: Flask) -> str:
    return state(app).settings.issuer


def assertion(app: Flask, client_id: str, key: Any = KEY, *, alg: str = "ES256", kid: str | None = "k1",
              **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": issuer(app), "iat": now, "exp": now + 60,
            "jti": uuid.uuid4().hex, **claims}
    body = {name: value for name, value in body.items() if value is not None}
    return pyjwt.encode(body, key, algorithm=alg, headers={"kid": kid} if kid else None)


def with_assertion(value: str, **form: Any) -> dict[str, Any]:
    return {"client_assertion_type": CLIENT_ASSERTION_TYPE, "client_assertion": value, **form}


def post_token(app: Flask, value: str, **form: Any) -> TestResponse:
    data = with_assertion(value, grant_type="client_credentials", **form)
    return app.test_client().post("/oauth/token", data=data)


def refused(response: TestResponse, reason: str | None = None) -> None:
    assert response.status_code == 401, response.get_json()
    assert response.get_json() is not None and response.get_json()["error"] == "invalid_client"
    if reason is not None:
        assert reason in response.get_json()["error_description"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_client_with_jwks_gets_a_token_and_introspects_and_revokes_it(app: Flask) -> None:
    client_id = register(app)
    response = post_token(app, assertion(app, client_id))
    assert response.status_code == 200, response.get_json()
    access = response.get_json()["access_token"]
    http = app.test_client()
    described = http.post("/oauth/introspect", data=with_assertion(assertion(app, client_id), token=access))
    assert described.status_code == 200 and described.get_json()["active"] is True
    assert described.get_json()["client_id"] == client_id
    # An RSA key of the same set, found by its kid, works too.
    rsa_signed = assertion(app, client_id, RSA_KEY, alg="RS256", kid="r1")
    assert http.post("/oauth/revoke", data=with_assertion(rsa_signed, token=access)).status_code == 200
    again = http.post("/oauth/introspect", data=with_assertion(assertion(app, client_id), token=access))
    assert again.get_json() == {"active": False}


def test_client_id_may_accompany_the_assertion_if_it_names_the_same_client(app: Flask) -> None:
    client_id = register(app)
    assert post_token(app, assertion(app, client_id), client_id=client_id).status_code == 200
    other = register(app)
    refused(post_token(app, assertion(app, client_id), client_id=other), "client_id differs")


@pytest.fixture(scope="module")
def keys_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    with DocumentServer(tmp_path_factory.mktemp("jwks-tls")) as server:
        yield server


@pytest.fixture
def key_set(keys_server: DocumentServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh path serving ``{"keys": [k1]}`` on the trusted loopback server."""
    monkeypatch.setenv("SSL_CERT_FILE", str(keys_server.ca_file))
    path = f"/{uuid.uuid4().hex}/jwks.json"
    keys_server.routes[path] = Route(json.dumps({"keys": [public_jwk(KEY, "k1")]}).encode())
    return path


def fetches(server: DocumentServer, path: str) -> int:
    return server.requests.count(path)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_an_admin_client_fetches_its_keys_from_a_loopback_host_once(app: Flask, keys_server: DocumentServer,
                                                                   key_set: str, host: str) -> None:
    """An administrator chose the URL, so an internal host is fine; the answer is cached."""
    client_id = register(app, jwks_uri=keys_server.url(key_set, host=host))
    assert post_token(app, assertion(app, client_id)).status_code == 200
    assert post_token(app, assertion(app, client_id)).status_code == 200
    assert fetches(keys_server, key_set) == 1


def test_a_rotated_key_is_fetched_at_most_once_per_interval(keys_server: DocumentServer, key_set: str) -> None:
    """An unknown kid refetches the client's key set, but a flood of them costs one fetch per
    ``REFETCH_INTERVAL``."""
    now = [1_000_000.0]
    keys = ClientKeys(clock=lambda: now[0])
    client = Client(client_id="rotating", jwks_uri=keys_server.url(key_set), registered_by=BY_ADMIN)
    assert keys.key(client, "k1") is not None
    keys_server.routes[key_set] = Route(json.dumps({"keys": [public_jwk(OTHER_KEY, "k2")]}).encode())
    assert keys.key(client, "k2") is None and keys.key(client, "k3") is None  # too soon
    assert fetches(keys_server, key_set) == 1
    now[0] += REFETCH_INTERVAL
    assert keys.key(client, "k2") is not None
    assert fetches(keys_server, key_set) == 2


@pytest.mark.parametrize("route", [
    Route(json.dumps({"keys": [public_jwk(KEY, "k1")], "padding": "x" * 100_000}).encode()),  # too big
    Route(b"", 302, {"Location": "/elsewhere"}),  # redirects are not followed
])
def test_an_oversized_or_redirected_key_set_is_not_used(app: Flask, keys_server: DocumentServer, key_set: str,
                                                        route: Route) -> None:
    keys_server.routes[key_set] = route
    client_id = register(app, jwks_uri=keys_server.url(key_set))
    refused(post_token(app, assertion(app, client_id)), "could not be fetched")


def test_a_key_set_behind_an_untrusted_certificate_is_not_used(app: Flask, keys_server: DocumentServer,
                                                               key_set: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    client_id = register(app, jwks_uri=keys_server.url(key_set))
    refused(post_token(app, assertion(app, client_id)), "could not be fetched")
    assert fetches(keys_server, key_set) == 0  # the TLS handshake failed before any request


SSRF_REFUSAL = "may only name a host on a public address"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_a_self_registered_client_cannot_aim_the_server_at_loopback(app: Flask, keys_server: DocumentServer,
                                                                    key_set: str, host: str) -> None:
    """SSRF: a client that registered itself names an internal jwks_uri; nothing is fetched."""
    client_id = register(app, jwks_uri=keys_server.url(key_set, host=host), registered_by=BY_SELF)
    refused(post_token(app, assertion(app, client_id)), SSRF_REFUSAL)
    refused(post_token(app, assertion(app, client_id)), SSRF_REFUSAL)  # also while the refusal is cached
    assert fetches(keys_server, key_set) == 0


def test_an_admin_clients_cached_keys_are_not_lent_to_a_self_registered_client(
        app: Flask, keys_server: DocumentServer, key_set: str) -> None:
    url = keys_server.url(key_set)
    assert post_token(app, assertion(app, register(app, jwks_uri=url))).status_code == 200
    stranger = register(app, jwks_uri=url, registered_by=BY_SELF)
    refused(post_token(app, assertion(app, stranger)), SSRF_REFUSAL)
    assert fetches(keys_server, key_set) == 1


@pytest.mark.parametrize("registered_by", [BY_SELF, BY_DOCUMENT])
def test_a_public_looking_name_resolving_to_loopback_is_refused_unless_allow_listed(
        keys_server: DocumentServer, key_set: str, registered_by: str) -> None:
    client = Client(client_id="stranger", registered_by=registered_by,
                    jwks_uri=keys_server.url(key_set, host="client.example"))
    with pytest.raises(KeySetRefused, match=r"client\.example resolves to a non-public address \(127\.0\.0\.1\)"):
        ClientKeys(resolver=loopback).key(client, "k1")
    assert fetches(keys_server, key_set) == 0
    assert ClientKeys({"client.example"}, resolver=loopback).key(client, "k1") is not None
    assert fetches(keys_server, key_set) == 1


@pytest.fixture(scope="module")
def open_apps(migrated_app: Flask, server_settings: dict[str, Any]) -> Iterator[dict[str, Flask]]:
    """Apps with open RFC 7591 registration, without and with ``localhost`` allow-listed."""
    made = {hosts: create_app({**server_settings, "dynamic_registration": "open", "cimd_allowed_hosts": hosts})
            for hosts in ("", "localhost")}
    yield made
    for made_app in made.values():
        with made_app.app_context():
            db.engine.dispose()


def self_registration(app: Flask, jwks_uri: str) -> TestResponse:
    """POST /oauth/register (RFC 7591), as a stranger on the network would."""
    document = {"client_name": "stranger", "redirect_uris": ["http://127.0.0.1:33418/callback"],
                "grant_types": ["authorization_code"], "response_types": ["code"],
                "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": jwks_uri}
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    return app.test_client().post("/oauth/register", json=document, environ_base={"REMOTE_ADDR": address})


def self_register(app: Flask, jwks_uri: str) -> str:
    response = self_registration(app, jwks_uri)
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["client_id"])


def redeem_made_up_code(app: Flask, client_id: str) -> TestResponse:
    """A token request whose client authentication comes first: a refused key set is
    ``invalid_client``; keys that verified the assertion reach the (made-up) code."""
    form = {"grant_type": "authorization_code", "code": "made-up", "redirect_uri": "http://127.0.0.1:33418/callback"}
    return app.test_client().post("/oauth/token", data=with_assertion(assertion(app, client_id), **form))


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "10.0.0.5", "169.254.169.254", "[::1]"])
def test_a_jwks_uri_aiming_inward_is_refused_at_registration(
        open_apps: dict[str, Flask], keys_server: DocumentServer, key_set: str, host: str) -> None:
    """SSRF, told at once: a stranger registering (RFC 7591) a jwks_uri on a loopback, private
    or metadata address gets invalid_client_metadata, and nothing is fetched."""
    response = self_registration(open_apps[""], keys_server.url(key_set, host=host))
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] == "invalid_client_metadata"
    assert "jwks_uri must reach a public address" in response.get_json()["error_description"]
    assert fetches(keys_server, key_set) == 0


def test_a_jwks_uri_aiming_inward_is_refused_at_an_rfc_7592_update(
        open_apps: dict[str, Flask], keys_server: DocumentServer, key_set: str) -> None:
    app = open_apps["localhost"]
    created = self_registration(app, keys_server.url(key_set)).get_json()
    document = {k: v for k, v in created.items() if k not in ("registration_access_token", "registration_client_uri")}
    document["jwks_uri"] = keys_server.url(key_set, host="127.0.0.1")
    response = app.test_client().put(f"/oauth/register/{created['client_id']}", json=document,
                                     headers={"Authorization": f"Bearer {created['registration_access_token']}"})
    assert response.status_code == 400, response.get_json()
    assert "jwks_uri must reach a public address" in response.get_json()["error_description"]


def test_an_allow_listed_host_serves_a_self_registered_clients_keys(
        open_apps: dict[str, Flask], keys_server: DocumentServer, key_set: str) -> None:
    """``AUTHSERVER_CIMD_ALLOWED_HOSTS`` is the development escape hatch for jwks_uri too, for
    the hosts it names only."""
    app = open_apps["localhost"]
    answer = redeem_made_up_code(app, self_register(app, keys_server.url(key_set)))
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"  # authenticated
    assert fetches(keys_server, key_set) == 1
    assert self_registration(app, keys_server.url(key_set, "127.0.0.1")).status_code == 400
    assert fetches(keys_server, key_set) == 1


def test_a_1024_bit_rsa_key_is_refused_at_registration(open_apps: dict[str, Flask]) -> None:
    """RFC 7518 §3.3 asks for 2048 bits: a key set holding only a weaker key registers nothing."""
    document = {"client_name": "weak", "grant_types": ["client_credentials"], "token_endpoint_auth_method":
                "private_key_jwt", "jwks": {"keys": [public_jwk(WEAK_RSA_KEY, "weak")]}}
    response = open_apps[""].test_client().post("/oauth/register", json=document,
                                                environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] == "invalid_client_metadata"
    assert "2048" in response.get_json()["error_description"]


@pytest.mark.parametrize(("curve", "alg"), [(ec.SECP256R1(), "ES384"), (ec.SECP384R1(), "ES256"),
                                           (ec.SECP256K1(), "ES256K")])
def test_an_ec_key_on_a_curve_its_algorithm_does_not_name_is_refused_at_registration(
        open_apps: dict[str, Flask], curve: ec.EllipticCurve, alg: str) -> None:
    """RFC 7518 §3.4: each ES algorithm names one curve; a key set with no other key registers nothing."""
    jwk = {**public_jwk(ec.generate_private_key(curve), "bent"), "alg": alg}
    document = {"client_name": "bent", "grant_types": ["client_credentials"], "token_endpoint_auth_method":
                "private_key_jwt", "jwks": {"keys": [jwk]}}
    response = open_apps[""].test_client().post("/oauth/register", json=document,
                                                environ_base={"REMOTE_ADDR": f"10.9.7.{uuid.uuid4().int % 250}"})
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] == "invalid_client_metadata"
    assert "no public signing key this server verifies" in response.get_json()["error_description"]


def test_an_assertion_signed_by_a_1024_bit_rsa_key_is_refused(app: Flask) -> None:
    """A weak key stored beside a strong one (registered before the rule) is never used."""
    client_id = register(app, jwks={"keys": [public_jwk(KEY, "k1"), public_jwk(WEAK_RSA_KEY, "weak")]})
    refused(post_token(app, assertion(app, client_id, WEAK_RSA_KEY, alg="RS256", kid="weak")))
    assert post_token(app, assertion(app, client_id)).status_code == 200


def test_a_replayed_assertion_is_refused(app: Flask) -> None:
    client_id = register(app)
    value = assertion(app, client_id)
    assert post_token(app, value).status_code == 200
    refused(post_token(app, value), "already used")
    # The same jti from another client is that client's business.
    other = register(app)
    jti = pyjwt.decode(value, options={"verify_signature": False})["jti"]
    assert post_token(app, assertion(app, other, jti=jti)).status_code == 200


@pytest.mark.e2e
def test_two_workers_racing_with_one_assertion_let_exactly_one_through(app: Flask, live_server) -> None:
    client_id = register(app)
    for _ in range(3):
        value = assertion(app, client_id)
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def send(value: str = value, barrier: threading.Barrier = barrier, statuses: list[int] = statuses) -> None:
            barrier.wait()
            data = with_assertion(value, grant_type="client_credentials")
            statuses.append(requests.post(live_server.url + "/oauth/token", data=data, timeout=30).status_code)

        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [200, 401]


@pytest.mark.parametrize("aud", ["token endpoint", "https://other.example", ["issuer", "https://other.example"], None])
def test_the_audience_must_be_the_issuer_alone(app: Flask, aud: Any) -> None:
    client_id = register(app)
    named = {"issuer": issuer(app), "token endpoint": issuer(app) + "/oauth/token"}
    value = [named.get(a, a) for a in aud] if isinstance(aud, list) else named.get(aud, aud)
    refused(post_token(app, assertion(app, client_id, aud=value)), "aud must be this server's issuer")
    assert post_token(app, assertion(app, client_id, aud=[issuer(app)])).status_code == 200


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": -120}, "expired"),
        ({"exp": 3600}, "lives too long"),
        ({"iat": -3600, "exp": 60}, "lives too long"),
        ({"exp": None}, "needs exp"),
        ({"nbf": 600}, "not valid yet"),
        ({"iat": 600, "exp": 660}, "not valid yet"),
        ({"exp": 60.5}, "whole number"),
        ({"exp": True}, "whole number"),
        ({"jti": None}, "needs jti"),
        ({"jti": ""}, "needs jti"),
        ({"jti": 7}, "needs jti"),
    ],
)
def test_dates_and_jti_are_checked(app: Flask, claims: dict[str, Any], reason: str) -> None:
    client_id = register(app)
    now = int(time.time())
    dates = ("exp", "nbf", "iat")
    relative = {k: now + v if k in dates and type(v) in (int, float) else v for k, v in claims.items()}
    refused(post_token(app, assertion(app, client_id, **relative)), reason)


def test_iss_must_equal_sub(app: Flask) -> None:
    client_id = register(app)
    refused(post_token(app, assertion(app, client_id, iss="someone-else")), "iss must equal")


def test_a_signature_by_another_key_is_refused_without_saying_more(app: Flask) -> None:
    client_id = register(app)
    response = post_token(app, assertion(app, client_id, OTHER_KEY))
    refused(response)
    unknown = post_token(app, assertion(app, "no-such-client"))
    refused(unknown)
    assert response.get_json() == unknown.get_json()  # an unknown client and a wrong key answer alike


def test_alg_none_and_hmac_with_the_public_key_are_refused(app: Flask) -> None:
    client_id = register(app)
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": issuer(app), "exp": now + 60, "jti": uuid.uuid4().hex}
    unsigned = pyjwt.encode(claims, "", algorithm="none")
    refused(post_token(app, unsigned), "must be signed with one of")
    # HS256 keyed with the client's public key, which anyone may know.
    public_pem = KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'kid': 'k1'}).encode())}.{b64(json.dumps(claims).encode())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    refused(post_token(app, f"{signing_input}.{b64(mac)}"), "must be signed with one of")
    # An allowed algorithm that is not the key's (RS256 named on the EC key's kid).
    refused(post_token(app, assertion(app, client_id, RSA_KEY, alg="RS256", kid="k1")))


@pytest.mark.parametrize("form", [
    {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", "client_assertion": "x.y.z"},
    {"client_assertion_type": CLIENT_ASSERTION_TYPE, "client_assertion": "not-a-jwt"},
    {"client_assertion_type": CLIENT_ASSERTION_TYPE},
])
def test_malformed_assertions_are_invalid_client(app: Flask, form: dict[str, str]) -> None:
    response = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials", **form})
    refused(response)


def test_one_authentication_method_per_request(app: Flask, make_client) -> None:
    client_id = register(app)
    secret_client = make_client()
    response = app.test_client().post("/oauth/token", headers=basic(*secret_client.basic),
                                      data=with_assertion(assertion(app, client_id), grant_type="client_credentials"))
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


def test_methods_do_not_cross(app: Flask, make_client) -> None:
    """A secret client cannot sign assertions, and a keyed client has no secret to send."""
    secret_client = make_client()
    refused(post_token(app, assertion(app, secret_client.client_id)))
    client_id = register(app)
    guessed = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials"},
                                     headers=basic(client_id, "ascs_anything"))
    assert guessed.status_code == 401


def test_metadata_names_private_key_jwt_and_its_algorithms(app: Flask) -> None:
    metadata = app.test_client().get("/.well-known/oauth-authorization-server").get_json()
    for endpoint in ("token", "introspection", "revocation"):
        assert "private_key_jwt" in metadata[f"{endpoint}_endpoint_auth_methods_supported"]
        algs = metadata[f"{endpoint}_endpoint_auth_signing_alg_values_supported"]
        assert "ES256" in algs and "RS256" in algs
        assert not {"none", "HS256"} & set(algs)
