"""Chain semantics (DRF/Djblets): not mine / success / failure, challenges, restrictions."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from resource_guard import AuthResult, Guard, Principal, Request
from resource_guard.backends.base import AuthBackend, Credentials, GetCredentialsResult
from resource_guard.errors import InvalidToken
from resource_guard.scrub import scrub
from tests.resource_guard.rg_testkit import basic, make_request


class SchemeBackend(AuthBackend):
    """Accepts ``<Scheme> good``, refuses any other value, ignores other schemes."""

    def __init__(self, scheme: str, principal: Principal | None = None) -> None:
        super().__init__(name=scheme.lower())
        self.www_auth_scheme = scheme
        self.principal = principal or Principal(subject="alice", backend=self.name,
                                                scopes=frozenset({"reports:read"}))
        self.calls = 0

    def get_credentials(self, request: Request) -> GetCredentialsResult:
        self.calls += 1
        value = self.parse_authorization(request, self.www_auth_scheme)
        if value is None or isinstance(value, AuthResult):
            return value
        return {"token": value}

    def validate_credentials(self, request: Request, credentials: Credentials) -> AuthResult:
        if credentials["token"] == "good":
            return self.succeed(self.principal)
        return self.fail(request, InvalidToken("The token is not good."))


class ExplodingBackend(SchemeBackend):
    def validate_credentials(self, request: Request, credentials: Credentials) -> AuthResult:
        raise RuntimeError(f"database down while checking {credentials['token']}")


def chain() -> tuple[Guard, SchemeBackend, SchemeBackend]:
    bearer, token = SchemeBackend("Bearer"), SchemeBackend("Token")
    return Guard([bearer, token]), bearer, token


def test_success_from_second_backend_after_first_says_not_mine() -> None:
    guard, bearer, token = chain()
    result = guard.check(make_request("Token good"), guard.requirement())
    assert result.ok and result.principal is token.principal
    assert bearer.calls == 1 and token.calls == 1


def test_failure_stops_the_chain() -> None:
    guard, _, token = chain()
    result = guard.check(make_request("Bearer bad"), guard.requirement())
    assert result.status == 401
    assert result.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="The token is not good."')
    assert token.calls == 0


def test_no_credentials_gets_first_backends_challenge_without_error_code() -> None:
    guard, _, _ = chain()
    result = guard.check(make_request(), guard.requirement())
    assert result.status == 401
    assert result.headers == {"WWW-Authenticate": 'Bearer realm="api"'}
    assert result.error is not None
    assert result.error.to_json()["error"] == "authentication_required"


def test_anonymous_passes_an_optional_endpoint() -> None:
    guard, _, _ = chain()
    result = guard.check(make_request(), guard.requirement(optional=True))
    assert result.ok and result.principal is None


def test_optional_endpoint_still_refuses_bad_credentials() -> None:
    guard, _, _ = chain()
    assert guard.check(make_request("Bearer bad"), guard.requirement(optional=True)).status == 401


def test_unknown_scheme_is_anonymous() -> None:
    guard, _, _ = chain()
    assert guard.authenticate(make_request("Digest abc")) == AuthResult()


@pytest.mark.parametrize(("header", "message"), [
    ("Bearer", "No credentials provided"),
    ("Bearer a b", "should not contain spaces"),
])
def test_malformed_header_is_invalid_request(header: str, message: str) -> None:
    guard, _, _ = chain()
    result = guard.check(make_request(header), guard.requirement())
    assert result.status == 400
    assert result.error is not None and message in result.error.description
    assert 'error="invalid_request"' in result.headers["WWW-Authenticate"]


@pytest.mark.parametrize("query", ["access_token=good", "a=1&access_token=", "x=1&access_token=z"])
def test_query_string_tokens_are_refused(query: str) -> None:
    guard, bearer, _ = chain()
    result = guard.check(make_request("Bearer good", query_string=query), guard.requirement())
    assert result.status == 400
    assert result.error is not None and "query string" in result.error.description
    assert bearer.calls == 0


def test_query_string_mentioning_access_token_as_value_is_fine() -> None:
    guard, _, _ = chain()
    result = guard.check(make_request("Bearer good", query_string="q=access_token"),
                         guard.requirement())
    assert result.ok


def test_insufficient_scope_is_403_naming_the_scope() -> None:
    guard, _, _ = chain()
    result = guard.check(make_request("Bearer good"), guard.requirement(scopes=["admin"]))
    assert result.status == 403
    assert result.headers["WWW-Authenticate"].startswith('Bearer realm="api", '
                                                         'error="insufficient_scope"')
    assert 'scope="admin"' in result.headers["WWW-Authenticate"]
    assert result.error is not None and result.error.to_json()["scope"] == "admin"


def test_scopes_given_as_a_string_are_a_programming_error() -> None:
    guard, _, _ = chain()
    with pytest.raises(TypeError):
        guard.requirement(scopes="reports:read")


@pytest.mark.parametrize(("method", "status"), [
    ("GET", 200), ("HEAD", 200), ("POST", 403), ("DELETE", 403)])
def test_resource_requirement_derives_scope_from_method(method: str, status: int) -> None:
    guard, _, _ = chain()
    result = guard.check(make_request("Bearer good", method=method),
                         guard.requirement(resource="reports"))
    assert result.status == status
    if status == 403:
        assert result.error is not None and result.error.scope is not None
        assert result.error.scope.startswith("reports:")


def test_unscoped_principal_passes_scope_checks() -> None:
    user = Principal(subject="alice", backend="token", scopes=None)
    guard = Guard([SchemeBackend("Token", user)])
    result = guard.check(make_request("Token good", method="DELETE"),
                         guard.requirement(scopes=["admin"], resource="reports"))
    assert result.ok


def test_policy_violation_is_403_from_the_principals_backend() -> None:
    limited = Principal(subject="alice", backend="token", scopes=None,
                        policy={"resources": {"*": {"allow": ["GET"], "block": ["*"]}}})
    guard = Guard([SchemeBackend("Bearer"), SchemeBackend("Token", limited)])
    assert guard.check(make_request("Token good"), guard.requirement(resource="reports")).ok
    result = guard.check(make_request("Token good", method="POST"),
                         guard.requirement(resource="reports"))
    assert result.status == 403
    assert result.headers["WWW-Authenticate"].startswith('Token realm="api", '
                                                         'error="insufficient_scope"')
    assert result.error is not None and "POST" in result.error.description


def test_policy_item_ids_are_consulted() -> None:
    limited = Principal(subject="alice", backend="token", scopes=None, policy={
        "resources": {"reports": {"*": {"block": ["*"]}, "7": {"allow": ["*"]}}}})
    guard = Guard([SchemeBackend("Token", limited)])
    requirement = guard.requirement(resource="reports")
    assert guard.check(make_request("Token good"), requirement, item_id="7").ok
    assert guard.check(make_request("Token good"), requirement, item_id="8").status == 403


def test_a_crashing_backend_is_a_503_logged_with_a_traceback_and_no_secret(
        caplog: pytest.LogCaptureFixture) -> None:
    guard = Guard([ExplodingBackend("Bearer")])
    with caplog.at_level(logging.DEBUG):
        result = guard.check(make_request("Bearer s3cr3t-value"), guard.requirement())
    assert result.status == 503
    assert result.headers["Retry-After"] == "30"
    assert "WWW-Authenticate" not in result.headers
    (record,) = [r for r in caplog.records if r.name == "resource_guard.guard"]
    assert record.levelno == logging.ERROR
    text = record.getMessage()
    assert "bearer backend failed; answering 503" in text
    assert "Traceback (most recent call last)" in text and "in validate_credentials" in text
    assert "RuntimeError: database down while checking" in text
    assert "s3cr3t-value" not in caplog.text


class ChainedFailure(SchemeBackend):
    """A store whose driver error quotes everything it was given, wrapped by the store."""

    def validate_credentials(self, request: Request, credentials: Credentials) -> AuthResult:
        try:
            raise ConnectionError(f"query failed; parameters: {request.authorization!r}")
        except ConnectionError as exc:
            raise LookupError("credential store unavailable") from exc


@pytest.mark.parametrize("header", [
    basic("alice", "correct horse battery staple"),
    "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl",
    "Token asapi_4tDjUaK1xTLz8n0Qp2hWvXcY7eRb3mS9kF6",
    "Bearer\tplain-opaque-value",  # repr() writes the tab as \t: only the exact-value mask finds it
])
def test_a_traceback_never_carries_the_presented_credentials(
        caplog: pytest.LogCaptureFixture, header: str) -> None:
    scheme = header.split()[0]
    guard = Guard([ChainedFailure(scheme)])
    with caplog.at_level(logging.DEBUG):
        assert guard.check(make_request(header), guard.requirement()).status == 503
    assert "ConnectionError: query failed" in caplog.text and "LookupError" in caplog.text
    secrets = [header.split()[1], "correct horse battery staple", "eyJzdWIiOiJhbGljZSJ9",
               "4tDjUaK1xTLz8n0Qp2hWvXcY7eRb3mS9kF6"]
    assert [s for s in secrets if s in caplog.text] == []


def test_scrub_masks_credential_shapes_it_was_not_told_about() -> None:
    text = scrub("Authorization: Bearer abcdefgh12 password=hunter2 client_secret: s3 "
                 "eyJhbGc.eyJzdWIi.sig asat_" + "A" * 36 + " KeyError: 'user_id'")
    for secret in ("abcdefgh12", "hunter2", "s3 ", "eyJhbGc", "asat_"):
        assert secret not in text
    assert "KeyError: 'user_id'" in text and "Bearer ****" in text


def test_clean_credentials_for_display_masks_sensitive_keys() -> None:
    cleaned = AuthBackend.clean_credentials_for_display({
        "username": "alice", "password": "pw", "API_KEY": "k", "Token": "t",
        "client_secret": "s", "signature": "sig", "note": "hello"})
    assert cleaned["username"] == "alice" and cleaned["note"] == "hello"
    for key in ("password", "API_KEY", "Token", "client_secret", "signature"):
        assert cleaned[key] not in ("pw", "k", "t", "s", "sig")


def test_challenge_descriptions_cannot_break_out_of_quotes() -> None:
    class Quoting(SchemeBackend):
        def validate_credentials(self, request: Request, credentials: Credentials) -> AuthResult:
            return self.fail(request, InvalidToken('bad "token"\\ here'))

    result = Guard([Quoting("Bearer")]).authenticate(make_request("Bearer x"))
    header = result.headers["WWW-Authenticate"]
    assert header.count('"') == 6 and "\\" not in header


def test_a_guard_needs_backends() -> None:
    with pytest.raises(ValueError):
        Guard([])


def test_core_does_not_import_web_frameworks_or_authserver() -> None:
    code = ("import sys, resource_guard, resource_guard.backends, resource_guard.cache;"
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('flask', 'werkzeug', 'sqlalchemy', 'authserver', 'redis')];"
            "print(bad); sys.exit(1 if bad else 0)")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr
