"""The audit trail: every event type of the contract, produced by the flow that causes it
and found with ``authserver audit list --json``; no secret in any event; the JSON-lines
sink; the command line's bad input.

The flows run through Flask's test client and the real ``authserver`` commands (Click's
runner), on SQLite and PostgreSQL; ``tests/e2e/test_audit_log.py`` runs a live server.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from authserver.oauth.names import SigningAlg

from .authorize_helpers import REDIRECT, Flow, csrf_of, pkce_pair, refresh, sign_in, signed_in_flow
from .helpers import basic, revoke, token
from .test_registration import WEB_APP, manage, register

Events = list[dict[str, Any]]


@pytest.fixture
def audit(migrated_app: Flask) -> Callable[..., Events]:
    """``authserver audit list --json`` with these options, parsed: one object a line."""
    runner = migrated_app.test_cli_runner()

    def run(*options: str, app: Flask | None = None) -> Events:
        result = (app.test_cli_runner() if app else runner).invoke(args=["audit", "list", "--json", *options])
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.output.splitlines()]

    return run


@pytest.fixture
def cli(migrated_app: Flask) -> Callable[..., Any]:
    runner = migrated_app.test_cli_runner()

    def run(*args: str) -> Any:
        result = runner.invoke(args=[*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    return run


def types_of(events: Events) -> list[str]:
    return [event["type"] for event in events]


def no_secret_in(events: Events, *secrets: str | None) -> None:
    text = json.dumps(events)
    for secret in secrets:
        if secret:
            assert secret not in text


def test_a_client_credentials_token_is_its_own_row_and_shows_with_where_it_came_from(
        app: Flask, make_client, audit) -> None:
    client = make_client()
    sent = "req-" + uuid.uuid4().hex
    resp = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials"},
                                  headers={**basic(*client.basic), "X-Request-ID": sent},
                                  environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert resp.status_code == 200
    [issued] = audit("--client", client.client_id, "--type", "token.issued")
    assert issued["actor"] == "client" and issued["remote_addr"] == "198.51.100.7" and issued["request_id"] == sent
    assert issued["details"]["grant_type"] == "client_credentials"
    assert issued["details"]["scope"] == "reports:read reports:write"
    with app.app_context():
        from sqlalchemy import func, select

        from authserver.extensions import db
        from authserver.models import AuditEvent
        stored = db.session.scalar(select(func.count()).select_from(AuditEvent)
                                   .where(AuditEvent.client_id == client.client_id))
    assert stored == 1  # client.created only: issuing wrote no event row of its own
    no_secret_in(audit("--client", client.client_id), client.client_secret, resp.get_json()["access_token"])


def test_a_refused_token_request_names_a_known_client_and_never_what_a_stranger_typed(
        app: Flask, make_client, audit) -> None:
    client = make_client()
    wrong = "cs_" + uuid.uuid4().hex
    assert token(app, (client.client_id, wrong), grant_type="client_credentials").status_code == 401
    [refused] = audit("--client", client.client_id, "--type", "token.refused")
    assert refused["actor"] == "client"
    assert refused["details"] == {"grant_type": "client_credentials", "error": "invalid_client"}
    stranger = "typed-" + uuid.uuid4().hex
    sent = uuid.uuid4().hex
    resp = app.test_client().post("/oauth/token", data={"grant_type": "nonsense:" + stranger},
                                  headers={**basic(stranger, wrong), "X-Request-ID": sent})
    assert resp.status_code in (400, 401)
    [anonymous] = [e for e in audit("--type", "token.refused", "--since", "1m") if e["request_id"] == sent]
    assert anonymous["actor"] == "anonymous" and anonymous["client_id"] is None
    assert anonymous["details"]["grant_type"] == "other"
    no_secret_in(audit("--type", "token.refused", "--since", "1m"), wrong, stranger)


@pytest.fixture
def web_client(make_client):
    return make_client(name="Audited", scope="reports:read", grant_types=["authorization_code", "refresh_token"],
                       redirect_uris=[REDIRECT])


def test_a_person_s_grant_from_sign_in_to_revocation(app: Flask, make_user, web_client, audit) -> None:
    """Signed in, consent given, code redeemed, the code replayed, a refresh token reused,
    and the last token revoked: each is one event, naming the person and the client."""
    flow = signed_in_flow(app, make_user, web_client.client_id)
    code = flow.code()
    first = flow.redeem(code, auth=web_client.basic)
    assert first.status_code == 200
    assert flow.redeem(code, auth=web_client.basic).status_code == 400  # replayed
    second = flow.redeem(flow.code(prompt="consent"), auth=web_client.basic).get_json()
    rotated = refresh(app, second["refresh_token"], auth=web_client.basic).get_json()
    assert refresh(app, second["refresh_token"], auth=web_client.basic).status_code == 400  # reused
    third = flow.redeem(flow.code(prompt="consent"), auth=web_client.basic).get_json()
    assert revoke(app, web_client.basic, third["refresh_token"]).status_code == 200
    events = audit("--client", web_client.client_id)
    username = next(e["user"] for e in events if e["type"] == "consent.granted")
    mine = audit("--user", username)
    assert types_of(mine).count("user.signed_in") == 1
    assert types_of(mine).count("consent.granted") == 3
    issued = [e for e in mine if e["type"] == "token.issued"]
    assert sorted(e["details"]["grant_type"] for e in issued) == ["authorization_code"] * 3 + ["refresh_token"] * 1
    for kind in ("code.replayed", "refresh.reuse_detected", "token.revoked"):
        [event] = [e for e in mine if e["type"] == kind]
        assert event["client_id"] == web_client.client_id and event["actor"] == "client"
    assert all(e["client_id"] == web_client.client_id for e in mine if e["type"] != "user.signed_in")
    no_secret_in(events, web_client.client_secret, code, first.get_json()["access_token"],
                 second["refresh_token"], rotated["refresh_token"], third["refresh_token"])


def test_sign_ins_that_fail_or_are_throttled_and_sessions_that_end(apps, make_user, audit) -> None:
    app = apps("off", login_max_failures=2)
    username, password = make_user()
    http = app.test_client()
    http.environ_base["REMOTE_ADDR"] = "192.0.2.41"
    typed_password = "not-" + uuid.uuid4().hex
    assert sign_in(http, username, typed_password).status_code == 400
    unknown = "nobody-" + uuid.uuid4().hex
    assert sign_in(http, unknown, typed_password).status_code == 400
    assert sign_in(http, username, typed_password).status_code == 400
    assert sign_in(http, username, password).status_code == 429  # the third failure in the window
    events = audit("--user", username, app=app)
    assert types_of(events) == ["user.locked_out", "user.sign_in_failed", "user.sign_in_failed"]
    assert events[0]["details"]["retry_after"] > 0 and events[0]["remote_addr"] == "192.0.2.41"
    assert {e["details"]["reason"] for e in events[1:]} == {"wrong_password"}
    anonymous = [e for e in audit("--type", "user.sign_in_failed", "--since", "1m", app=app)
                 if e["details"]["reason"] == "unknown_user"]
    assert anonymous and all(e["user"] is None and e["actor"] == "anonymous" for e in anonymous)
    no_secret_in(audit("--since", "1m", app=app), typed_password, password, unknown)

    other, other_password = make_user()
    browser = app.test_client()
    assert sign_in(browser, other, other_password).status_code == 303
    page = browser.get("/account").get_data(as_text=True)
    assert browser.post("/logout", data={"csrf_token": csrf_of(page)}).status_code == 303
    signed_in, ended = audit("--user", other, app=app)[::-1]
    assert signed_in["type"] == "user.signed_in" and ended["type"] == "session.ended"
    assert ended["details"] == {"sid": signed_in["details"]["sid"], "reason": "logout"} and ended["actor"] == "user"


def test_revoking_an_application_on_the_account_page(app: Flask, make_user, web_client, audit) -> None:
    flow = signed_in_flow(app, make_user, web_client.client_id)
    assert flow.redeem(flow.code(), auth=web_client.basic).status_code == 200
    page = flow.http.get("/account").get_data(as_text=True)
    resp = flow.http.post(f"/account/applications/{web_client.client_id}/revoke", data={"csrf_token": csrf_of(page)})
    assert resp.status_code == 303
    [revoked] = audit("--client", web_client.client_id, "--type", "consent.revoked")
    assert revoked["actor"] == "user" and revoked["details"] == {"tokens_revoked": 2}  # access and refresh


def test_the_command_line_s_changes(app: Flask, make_user, cli, audit) -> None:
    made = cli("clients", "create", "--name", "audited-cli", "--scope", "reports:read")
    client_id, secret = made["client_id"], made["client_secret"]
    cli("clients", "update", client_id, "--introspect-any")
    rotated = cli("clients", "rotate-secret", client_id)["client_secret"]
    assert token(app, (client_id, rotated), grant_type="client_credentials").status_code == 200
    cli("tokens", "revoke", "--client", client_id)
    assert "token.issued" in types_of(audit("--client", client_id))
    cli("clients", "delete", client_id)
    events = audit("--client", client_id)
    # The deleted client's token rows, its token.issued events, went with it.
    assert types_of(events) == ["client.deleted", "token.revoked", "client.secret_rotated", "client.updated",
                                "client.created"]
    assert all(e["actor"] == "cli" and e["remote_addr"] is None for e in events)
    assert next(e for e in events if e["type"] == "client.updated")["details"] == {"changed": ["introspect_any"]}
    no_secret_in(events, secret, rotated)

    username, password = make_user()
    http = app.test_client()
    assert sign_in(http, username, password).status_code == 303
    cli("users", "disable", username)
    events = audit("--user", username)
    assert types_of(events)[:2] == ["session.ended", "user.disabled"]
    assert events[0]["actor"] == "cli" and events[0]["details"]["reason"] == "user_disabled"

    [key] = cli("keys", "rotate", "--alg", SigningAlg.ES256.value)
    [rotated_key] = [e for e in audit("--type", "key.rotated", "--since", "1m") if e["details"]["kid"] == key["kid"]]
    assert rotated_key["actor"] == "cli" and rotated_key["details"]["alg"] == "ES256"


def test_self_registration_and_its_management(apps, audit) -> None:
    app = apps("open")
    answer = register(app, WEB_APP).get_json()
    client_id, token_value = answer["client_id"], answer["registration_access_token"]
    updated = manage(app, "PUT", client_id, token_value, {**WEB_APP, "client_id": client_id, "client_name": "Renamed"})
    assert updated.status_code == 200
    assert manage(app, "DELETE", client_id, updated.get_json()["registration_access_token"]).status_code == 204
    events = audit("--client", client_id, app=app)
    assert types_of(events) == ["client.deleted", "client.updated", "registration.created"]
    assert all(e["actor"] == "client" and e["remote_addr"] for e in events)
    no_secret_in(events, token_value, updated.get_json()["registration_access_token"])


def test_filters_limit_and_purge(app: Flask, make_client, audit) -> None:
    client = make_client()
    for _ in range(3):
        token(app, client.basic, grant_type="client_credentials")
        token(app, (client.client_id, "wrong"), grant_type="client_credentials")
    assert len(audit("--client", client.client_id)) == 7  # created, 3 issued, 3 refused
    newest_two = audit("--client", client.client_id, "--limit", "2")
    assert newest_two == audit("--client", client.client_id)[:2]
    assert types_of(audit("--client", client.client_id, "--type", "token.refused")) == ["token.refused"] * 3
    runner = app.test_cli_runner()
    kept = runner.invoke(args=["audit", "purge", "--older-than", "1h", "--json"])
    assert kept.exit_code == 0 and len(audit("--client", client.client_id)) == 7
    with app.app_context():
        from datetime import timedelta

        from sqlalchemy import update

        from authserver.extensions import db
        from authserver.models import AuditEvent
        from authserver.models.types import utcnow
        db.session.execute(update(AuditEvent).where(AuditEvent.client_id == client.client_id)
                           .values(occurred_at=utcnow() - timedelta(days=91)))
        db.session.commit()
    purged = runner.invoke(args=["audit", "purge", "--older-than", "90d", "--json"])
    assert purged.exit_code == 0 and json.loads(purged.output)["events_deleted"] >= 4
    assert types_of(audit("--client", client.client_id)) == ["token.issued"] * 3  # the token rows stay


@pytest.mark.parametrize("args", [["list", "--since", "banana"], ["purge", "--older-than", "90"],
                                  ["list", "--since", "-1h"], ["list", "--type", "token.stolen"]])
def test_bad_options_are_one_line_and_exit_2(app: Flask, args: list[str]) -> None:
    result = app.test_cli_runner().invoke(args=["audit", *args])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 if args[-1] != "token.stolen" else "token.stolen" in result.output


@pytest.fixture
def sink_app(apps, tmp_path: Path) -> Iterator[tuple[Flask, Path]]:
    path = tmp_path / "audit.jsonl"
    yield apps("off", audit_log=f"db+{path}"), path


def test_the_sink_has_each_committed_event_as_one_json_line(sink_app: tuple[Flask, Path], make_client,
                                                             audit) -> None:
    app, path = sink_app
    client = make_client()
    ok = token(app, client.basic, grant_type="client_credentials")
    token(app, (client.client_id, "wrong"), grant_type="client_credentials")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    mine = [line for line in lines if line["client_id"] == client.client_id]
    assert types_of(mine) == ["token.issued", "token.refused"]
    listed = audit("--client", client.client_id, "--type", "token.issued", "--type", "token.refused", app=app)
    assert sorted(types_of(listed)) == sorted(types_of(mine))
    assert mine[0] == next(e for e in listed if e["type"] == "token.issued")
    no_secret_in(mine, client.client_secret, ok.get_json()["access_token"])


def test_a_rolled_back_change_leaves_no_line(sink_app: tuple[Flask, Path]) -> None:
    from authserver.audit import Actor, EventType, record
    from authserver.extensions import db

    app, path = sink_app
    marker = "rolled-back-" + uuid.uuid4().hex
    with app.app_context():
        record(EventType.CLIENT_DELETED, Actor.CLI, client_id=marker)
        db.session.rollback()
        record(EventType.CLIENT_DELETED, Actor.CLI, client_id=marker + "-kept")
        db.session.commit()
    text = path.read_text() if path.exists() else ""
    assert f'"{marker}"' not in text and f'"{marker}-kept"' in text


def test_an_unusable_sink_is_a_configuration_error(tmp_path: Path) -> None:
    from authserver.config import ConfigError, load_settings

    base = {"AUTHSERVER_INSTANCE_PATH": str(tmp_path), "AUTHSERVER_SECRET_KEY": "k" * 43}
    with pytest.raises(ConfigError, match=r"must be db, db\+stderr or db\+FILE"):
        load_settings(environ={**base, "AUTHSERVER_AUDIT_LOG": "stderr"})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ={**base, "AUTHSERVER_AUDIT_LOG": f"db+{tmp_path}/missing/audit.jsonl"})
    assert load_settings(environ={**base, "AUTHSERVER_AUDIT_LOG": "db+stderr"}).audit_log == "stderr"
    assert load_settings(environ=base).audit_log is None


def test_a_person_sees_their_own_recent_security_activity_and_nobody_else_s(
        app: Flask, make_user, web_client) -> None:
    username, password = make_user()
    http = app.test_client()
    assert sign_in(http, username, password).status_code == 303
    flow = Flow(app, http, web_client.client_id, REDIRECT, *pkce_pair())
    assert flow.redeem(flow.code(), auth=web_client.basic).status_code == 200
    assert sign_in(app.test_client(), username, "wrong password").status_code == 400
    someone_else, their_password = make_user()
    assert sign_in(app.test_client(), someone_else, "also wrong").status_code == 400
    page = flow.http.get("/account").get_data(as_text=True)
    activity = page.split('id="activity-heading"', 1)[1]
    assert activity.count('class="row activity"') == 3
    failed, allowed, signed_in_line = activity.split('class="row activity"')[1:]
    assert "A sign-in with your name failed" in failed
    assert "Allowed Audited" in allowed and "Signed in" in signed_in_line
    assert someone_else not in page and their_password not in page


def test_a_sink_that_cannot_be_written_costs_the_request_nothing(apps, make_client, audit,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A full disk (``/dev/full`` answers every write with ENOSPC): the token is issued, the
    event is in the table, and the log says the line was not written."""
    app = apps("off", audit_log="db+/dev/full")
    client = make_client()
    with caplog.at_level("WARNING", logger="authserver.audit.sink"):
        assert token(app, (client.client_id, "wrong"), grant_type="client_credentials").status_code == 401
        assert token(app, client.basic, grant_type="client_credentials").status_code == 200
    assert sorted(types_of(audit("--client", client.client_id, app=app))) == [
        "client.created", "token.issued", "token.refused"]
    assert [r.getMessage() for r in caplog.records if "not written" in r.getMessage()] == [
        "audit event token.refused not written to /dev/full: No space left on device",
        "audit event token.issued not written to /dev/full: No space left on device"]
