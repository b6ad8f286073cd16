"""The authorization request's OpenID Connect parameters (OIDC Core §3.1.2.1): ``prompt``,
``max_age``, ``login_hint`` and the accepted display hints, request objects refused, and
authorization requests sent by POST."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from authserver.appstate import state
from authserver.extensions import db
from authserver.models import AuthorizationCode, Session, User
from authserver.web.auth_request import FRESH_LOGIN

from .authorize_helpers import REDIRECT, authorize_url, consent, csrf_of, pkce_pair, query_of, sign_in
from .id_tokens import id_token, stranger_key


@pytest.fixture
def web_client(make_client):
    return make_client(name="Acme Reports", scope="reports:read reports:write", grant_types=["authorization_code"],
                       redirect_uris=[REDIRECT])


class Person:
    """One browser, signed in as one person who has approved the client once."""

    def __init__(self, app: Flask, make_user, client_id: str) -> None:
        self.app, self.client_id = app, client_id
        self.username, self.password = make_user()
        self.http: FlaskClient = app.test_client()
        assert sign_in(self.http, self.username, self.password).status_code == 303
        self.challenge = pkce_pair()[1]
        assert consent(self.http, self.url()).status_code == 303  # approved: later requests need no page

    def url(self, **extra: str) -> str:
        return authorize_url(self.client_id, challenge=self.challenge, **extra)

    def session(self) -> Session:
        with self.app.app_context():
            user_id = db.session.scalar(select(User.id).where(User.username == self.username))
            live = select(Session).where(Session.user_id == user_id, Session.ended_at.is_(None))
            row = db.session.scalar(live.order_by(Session.id.desc()))
            assert row is not None
            db.session.expunge(row)
            return row

    def age_session(self, seconds: int) -> None:
        """Move the sign-in back in time, as if it happened ``seconds`` ago."""
        row = self.session()
        with self.app.app_context():
            db.session.execute(update(Session).where(Session.id == row.id)
                               .values(auth_time=row.auth_time - timedelta(seconds=seconds)))
            db.session.commit()


@pytest.fixture
def person(app: Flask, make_user, web_client) -> Person:
    return Person(app, make_user, web_client.client_id)


def _login_next(resp) -> str:
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/login?"), resp.get_data(as_text=True)
    return query_of(resp.headers["Location"])["next"]


def _error(resp) -> str:
    assert resp.status_code == 302 and resp.headers["Location"].startswith(REDIRECT + "?")
    return query_of(resp.headers["Location"])["error"]


def _code(resp) -> str:
    assert resp.status_code == 302 and resp.headers["Location"].startswith(REDIRECT + "?"), resp.get_data(as_text=True)
    return query_of(resp.headers["Location"])["code"]


def _sign_in_again(person: Person, next_url: str) -> str:
    """Open the login page a demanded sign-in leads to, sign in there; returns where it sends us."""
    page = person.http.get("/login?" + urlencode({"next": next_url}))
    assert page.status_code == 200, "a signed-in person must still see the form"
    html = page.get_data(as_text=True)
    assert f'value="{person.username}"' in html  # prefilled with who they are
    form = {"csrf_token": csrf_of(html), "username": person.username, "password": person.password, "next": next_url}
    back = person.http.post("/login", data=form)
    assert back.status_code == 303
    location: str = back.headers["Location"]
    return location


def test_signed_in_person_gets_a_code_without_prompt(person: Person) -> None:
    assert _code(person.http.get(person.url()))


@pytest.mark.parametrize("prompt", ["login", "select_account", "login consent"])
def test_prompt_login_demands_a_new_sign_in_and_then_continues(person: Person, prompt: str) -> None:
    before = person.session()
    next_url = _login_next(person.http.get(person.url(prompt=prompt, state="fresh")))
    assert FRESH_LOGIN in dict(parse_qsl(urlsplit(next_url).query))
    back = _sign_in_again(person, next_url)
    assert back == next_url
    answer = person.http.get(back)
    if "consent" in prompt:  # the consent page, then the code
        assert answer.status_code == 200 and 'value="allow"' in answer.get_data(as_text=True)
        answer = person.http.post(back, data={"csrf_token": csrf_of(answer.get_data(as_text=True)),
                                              "decision": "allow"})
        assert answer.status_code == 303
        answer.status_code = 302
    assert _code(answer) and query_of(answer.headers["Location"])["state"] == "fresh"
    after = person.session()
    assert after.id != before.id and after.auth_time > before.auth_time


def test_the_code_of_a_prompt_login_request_carries_the_new_sign_in(person: Person) -> None:
    """The code's session is the fresh one: the old session ended at the new sign-in."""
    old = person.session()
    code_count = _codes(person)
    _code(person.http.get(_sign_in_again(person, _login_next(person.http.get(person.url(prompt="login"))))))
    assert _codes(person) == code_count + 1
    with person.app.app_context():
        ended = db.session.get(Session, old.id)
        assert ended is not None and ended.ended_at is not None


def _codes(person: Person) -> int:
    with person.app.app_context():
        return len(db.session.scalars(select(AuthorizationCode.id).join(User).where(User.username == person.username))
                   .all())


def test_the_sign_in_note_cannot_be_moved_to_another_request(person: Person) -> None:
    next_url = _login_next(person.http.get(person.url(prompt="login", state="one")))
    note = dict(parse_qsl(urlsplit(next_url).query))[FRESH_LOGIN]
    _sign_in_again(person, next_url)
    other = person.url(prompt="login", state="two") + "&" + urlencode({FRESH_LOGIN: note})
    assert _login_next(person.http.get(other)), "a note made for another request satisfies nothing"
    forged = person.url(prompt="login", state="one") + "&" + urlencode({FRESH_LOGIN: note[:-3] + "abc"})
    assert _login_next(person.http.get(forged))


def test_an_old_note_does_not_skip_a_new_demand(person: Person) -> None:
    """A note from before the current sign-in is older than it: that session satisfies it,
    but the very next prompt=login (without the note) still demands a new sign-in."""
    _code(person.http.get(_sign_in_again(person, _login_next(person.http.get(person.url(prompt="login"))))))
    assert _login_next(person.http.get(person.url(prompt="login")))


def test_prompt_login_while_signed_out_is_the_ordinary_sign_in(app: Flask, make_user, web_client) -> None:
    http = app.test_client()
    url = authorize_url(web_client.client_id, challenge=pkce_pair()[1], prompt="login")
    next_url = _login_next(http.get(url))
    username, password = make_user()
    back = sign_in(http, username, password, next_url=next_url)
    assert back.headers["Location"] == next_url
    assert http.get(next_url).status_code == 200  # the consent page, not the login page again


def test_max_age_older_than_the_sign_in_demands_a_new_one(person: Person) -> None:
    person.age_session(120)
    assert _code(person.http.get(person.url(max_age="300")))
    next_url = _login_next(person.http.get(person.url(max_age="60")))
    assert _code(person.http.get(_sign_in_again(person, next_url)))
    assert _code(person.http.get(person.url(max_age="60")))  # the new sign-in is recent


def test_max_age_zero_always_demands_a_sign_in_and_does_not_loop(person: Person) -> None:
    next_url = _login_next(person.http.get(person.url(max_age="0")))
    assert _code(person.http.get(_sign_in_again(person, next_url)))
    assert _login_next(person.http.get(person.url(max_age="0")))


def test_prompt_none_with_a_too_old_sign_in_is_login_required(person: Person) -> None:
    person.age_session(120)
    assert _error(person.http.get(person.url(prompt="none", max_age="60"))) == "login_required"
    assert _code(person.http.get(person.url(prompt="none", max_age="600")))


def test_prompt_none_answers_without_a_page(app: Flask, make_user, web_client, person: Person) -> None:
    signed_out = app.test_client()
    url = authorize_url(web_client.client_id, challenge=pkce_pair()[1], prompt="none")
    assert _error(signed_out.get(url)) == "login_required"
    assert _error(person.http.get(person.url(prompt="none", scope="reports:write"))) == "consent_required"
    assert _code(person.http.get(person.url(prompt="none")))


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", " 5", "1e3", "", "99999999999"])
def test_a_max_age_that_is_not_a_number_of_seconds_is_invalid_request(person: Person, value: str) -> None:
    assert _error(person.http.get(person.url(max_age=value))) == "invalid_request"


@pytest.mark.parametrize("prompt", ["bogus", "none login", "login bogus"])
def test_unknown_or_conflicting_prompts_are_invalid_request(person: Person, prompt: str) -> None:
    assert _error(person.http.get(person.url(prompt=prompt))) == "invalid_request"


def test_prompt_consent_shows_consent_even_when_remembered(person: Person) -> None:
    page = person.http.get(person.url(prompt="consent"))
    assert page.status_code == 200 and 'value="allow"' in page.get_data(as_text=True)


@pytest.mark.parametrize(("name", "error"), [("request", "request_not_supported"),
                                             ("request_uri", "request_uri_not_supported")])
def test_request_objects_are_refused_by_redirect(app: Flask, web_client, person: Person, name: str,
                                                 error: str) -> None:
    issuer = state(app).settings.issuer
    for http in (app.test_client(), person.http):
        resp = http.get(person.url(**{name: "eyJhbGciOiJub25lIn0.e30.", "state": "ro"}))
        assert query_of(resp.headers["Location"]) | {"error_description": ""} == {
            "error": error, "state": "ro", "iss": issuer, "error_description": ""}


def test_request_object_with_an_unregistered_redirect_uri_is_a_page(app: Flask, web_client) -> None:
    url = authorize_url(web_client.client_id, redirect_uri="https://evil.example/cb", challenge=pkce_pair()[1],
                        request_uri="https://evil.example/r")
    resp = app.test_client().get(url)
    assert resp.status_code == 400 and "Location" not in resp.headers


def test_login_hint_prefills_the_username_escaped_and_bounded(app: Flask, web_client) -> None:
    http = app.test_client()

    def login_page(hint: str) -> str:
        url = authorize_url(web_client.client_id, challenge=pkce_pair()[1], login_hint=hint)
        return http.get(http.get(url).headers["Location"]).get_data(as_text=True)

    assert 'value="alice@example.com"' in login_page("alice@example.com")
    page = login_page('"><script>alert(1)</script>')
    assert "<script>alert(1)" not in page and 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    assert 'name="username" type="text" value=""' in login_page("a" * 151)


@pytest.mark.parametrize("extra", [{"display": "popup"}, {"display": "page"}, {"ui_locales": "fr-CA en"},
                                   {"claims_locales": "de"}, {"acr_values": "urn:mace:incommon:iap:silver 1"},
                                   {"nonce": "n-0S6_WzA2Mj"}])
def test_optional_hints_are_accepted(person: Person, extra: dict[str, str]) -> None:
    assert _code(person.http.get(person.url(**extra)))


@pytest.mark.parametrize("extra", [{"display": "fullscreen"}, {"ui_locales": "fr_CA"}, {"claims_locales": "<b>"},
                                   {"acr_values": "a  b"}, {"ui_locales": "en " * 400}])
def test_malformed_hints_are_invalid_request(person: Person, extra: dict[str, str]) -> None:
    assert _error(person.http.get(person.url(**extra))) == "invalid_request"


def _form(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_a_post_authorization_request_is_answered_like_a_get(app: Flask, make_user, web_client) -> None:
    """OIDC Core §3.1.2.1: the parameters may come form-encoded in a POST."""
    url = authorize_url(web_client.client_id, challenge=pkce_pair()[1], state="posted")
    signed_out = app.test_client()
    next_url = _login_next(signed_out.post("/oauth/authorize", data=_form(url)))
    assert _form(next_url) == _form(url)  # login returns to the same request, as a GET

    http = app.test_client()
    assert sign_in(http, *make_user()).status_code == 303
    page = http.post("/oauth/authorize", data=_form(url))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'value="allow"' in html and "Location" not in page.headers
    action = html.split('class="actions"')[0].rsplit('action="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert _form(action) == _form(url)  # the consent form approves exactly this request
    allowed = http.post(action, data={"csrf_token": csrf_of(html), "decision": "allow"})
    assert allowed.status_code == 303 and query_of(allowed.headers["Location"])["state"] == "posted"


def test_a_cross_site_post_never_yields_a_code_without_the_consent_click(app: Flask, make_user, web_client) -> None:
    """A third-party page can make the browser POST anything, but not read the CSRF token:
    its POST shows the consent page, and a forged "allow" is refused."""
    http = app.test_client()
    assert sign_in(http, *make_user()).status_code == 303
    url = authorize_url(web_client.client_id, challenge=pkce_pair()[1])
    for form in (_form(url), {**_form(url), "decision": "allow"}, {**_form(url), "decision": "allow",
                                                                    "csrf_token": "guessed"}):
        for target in ("/oauth/authorize", url):
            resp = http.post(target, data=form)
            assert "code=" not in resp.headers.get("Location", ""), (target, form)
            assert resp.status_code in (200, 400)
    with app.app_context():
        assert db.session.scalar(select(AuthorizationCode.id).where(
            AuthorizationCode.client_pk == _client_pk(web_client.client_id))) is None


def _client_pk(client_id: str) -> int:
    from authserver.models import Client

    pk = db.session.scalar(select(Client.id).where(Client.client_id == client_id))
    assert pk is not None
    return pk


def test_a_post_request_with_prompt_none_is_answered_by_redirect(app: Flask, web_client) -> None:
    url = authorize_url(web_client.client_id, challenge=pkce_pair()[1], prompt="none")
    resp = app.test_client().post("/oauth/authorize", data=_form(url))
    assert resp.status_code == 303 and query_of(resp.headers["Location"])["error"] == "login_required"


def _subject(person: Person) -> str:
    return f"user:{person.session().user_id}"


def test_id_token_hint_of_the_signed_in_person_answers_even_when_expired(app: Flask, person: Person) -> None:
    hint = id_token(app, _subject(person), person.client_id, exp=1, iat=0)
    assert _code(person.http.get(person.url(prompt="none", id_token_hint=hint)))
    assert _code(person.http.get(person.url(id_token_hint=hint)))


def test_id_token_hint_of_someone_else_is_login_required_or_a_new_sign_in(app: Flask, person: Person) -> None:
    """OIDC Core §3.1.2.1: the person the hint names must be the one signed in. Without
    prompt=none the login page asks; signing in as the same other person again ends in
    login_required rather than a loop."""
    hint = id_token(app, "user:999999", person.client_id)
    assert _error(person.http.get(person.url(prompt="none", id_token_hint=hint))) == "login_required"
    back = _sign_in_again(person, _login_next(person.http.get(person.url(id_token_hint=hint))))
    assert _error(person.http.get(back)) == "login_required"


@pytest.mark.parametrize("forgery", ["another client", "another issuer", "another key", "not a JWT"])
def test_an_id_token_hint_we_did_not_issue_to_this_client_is_invalid_request(
        app: Flask, make_client, person: Person, forgery: str) -> None:
    """An ID token of one client used at another, one from another issuer or signed by
    another key: refused by redirect with invalid_request, nothing issued."""
    subject = _subject(person)
    hints: dict[str, Callable[[], str]] = {
        "another client": lambda: id_token(app, subject, make_client(grant_types=["authorization_code"],
                                                                     redirect_uris=[REDIRECT]).client_id),
        "another issuer": lambda: id_token(app, subject, person.client_id, iss="https://evil.example"),
        "another key": lambda: id_token(app, subject, person.client_id, key=stranger_key(app)),
        "not a JWT": lambda: "not-a-jwt",
    }
    resp = person.http.get(person.url(prompt="none", id_token_hint=hints[forgery]()))
    assert _error(resp) == "invalid_request" and "code" not in query_of(resp.headers["Location"])


def test_an_openid_request_without_redirect_uri_is_invalid_request(app: Flask, make_client, person: Person) -> None:
    """OIDC Core §3.1.2.1 makes redirect_uri required where OAuth lets a sole registered one
    stand in; the error goes to that registered URI."""
    client = make_client(scope="openid reports:read", grant_types=["authorization_code"], redirect_uris=[REDIRECT])
    url = authorize_url(client.client_id, redirect_uri=None, challenge=pkce_pair()[1], scope="openid")
    assert _error(person.http.get(url)) == "invalid_request"
    plain = authorize_url(client.client_id, redirect_uri=None, challenge=pkce_pair()[1], scope="reports:read")
    assert person.http.get(plain).status_code in (200, 302)  # plain OAuth: the consent page, or a code
