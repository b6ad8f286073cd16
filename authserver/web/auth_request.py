"""OpenID Connect Core §3.1.2.1: what an authorization request asks of the person's sign-in.

``prompt`` and ``max_age`` decide whether a live session is good enough or the person must
sign in again; ``login_hint`` prefills the login form; ``display``, ``ui_locales``,
``claims_locales`` and ``acr_values`` are accepted when well formed. Request objects are not
supported (§6.3), and say so instead of being ignored.

A demanded sign-in must end, not loop: the login page's ``next`` carries a signed note of
when the request first demanded it (``FRESH_LOGIN``), bound to the request's parameters, and
a session that began after that moment satisfies ``prompt=login`` and ``max_age`` for that
request.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from itsdangerous import BadData, URLSafeTimedSerializer

from ..models.types import utcnow
from ..oauth.names import EndpointPath
from .csrf import FIELD as CSRF_FIELD

FRESH_LOGIN = "authserver_login_after"
# The consent form's own fields: not part of the authorization request it answers.
FORM_FIELDS = (CSRF_FIELD, "decision")
# How long a demanded sign-in may take before the request demands another.
FRESH_LOGIN_TTL = 3600
PROMPTS = frozenset({"none", "login", "consent", "select_account"})
# ``select_account`` is answered with the login form: one browser holds one session here,
# and signing in is how a person picks the account (see README).
SIGN_IN_PROMPTS = frozenset({"login", "select_account"})
DISPLAYS = frozenset({"page", "popup", "touch", "wap"})
_TAG = r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*"  # BCP 47 shape
LOCALES = re.compile(rf"{_TAG}(?: {_TAG})*")
ACR_VALUES = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
MAX_AGE = re.compile(r"[0-9]{1,10}")
MAX_PARAMETER = 1000
MAX_LOGIN_HINT = 150  # the longest username


@dataclass(frozen=True)
class Interaction:
    """The checked OpenID Connect parameters of one authorization request."""

    prompts: frozenset[str]
    max_age: int | None

    @property
    def silent(self) -> bool:
        return "none" in self.prompts

    @property
    def wants_sign_in(self) -> bool:
        return not SIGN_IN_PROMPTS.isdisjoint(self.prompts)

    @property
    def wants_consent(self) -> bool:
        return "consent" in self.prompts

    def demands_fresh_sign_in(self, auth_time: datetime, now: datetime) -> bool:
        """``prompt=login``/``select_account``, or a sign-in older than ``max_age`` (0: always)."""
        return self.wants_sign_in or (self.max_age is not None and now - auth_time > timedelta(seconds=self.max_age))

    @property
    def may_demand_sign_in(self) -> bool:
        return self.wants_sign_in or self.max_age is not None


def interaction(data: Mapping[str, str]) -> Interaction:
    """Check the OpenID Connect parameters; an ``OAuth2Error`` goes back to the client."""
    if data.get("request") is not None:
        raise RequestNotSupportedError("Request objects are not supported; send the parameters themselves.")
    if data.get("request_uri") is not None:
        raise RequestURINotSupportedError("request_uri is not supported; send the parameters themselves.")
    prompts = frozenset((data.get("prompt") or "").split())
    if not prompts <= PROMPTS:
        raise InvalidRequestError("prompt must be among none, login, consent and select_account.")
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values.")
    max_age = data.get("max_age")
    if max_age is not None and not MAX_AGE.fullmatch(max_age):
        raise InvalidRequestError("max_age must be a number of seconds (0 or more).")
    _check_shape(data, "display", lambda v: v in DISPLAYS, "page, popup, touch or wap")
    _check_shape(data, "ui_locales", LOCALES.fullmatch, "language tags separated by spaces, e.g. fr-CA en")
    _check_shape(data, "claims_locales", LOCALES.fullmatch, "language tags separated by spaces, e.g. fr-CA en")
    _check_shape(data, "acr_values", ACR_VALUES.fullmatch, "values separated by single spaces")
    return Interaction(prompts, int(max_age) if max_age is not None else None)


def _check_shape(data: Mapping[str, str], name: str, ok: Callable[[str], object], expected: str) -> None:
    value = data.get(name)
    if value is not None and (len(value) > MAX_PARAMETER or not ok(value)):
        raise InvalidRequestError(f"{name} must be {expected}.")


def login_hint(next_url: str | None) -> str:
    """The ``login_hint`` of the authorization request behind ``next_url``, if usable as a
    username (printable, not too long); else empty. The template escapes it."""
    if next_url is None:
        return ""
    hint = dict(parse_qsl(urlsplit(next_url).query)).get("login_hint", "")
    if len(hint) > MAX_LOGIN_HINT or not hint.isprintable():
        return ""
    return hint.strip()


def demands_sign_in(next_url: str | None) -> bool:
    """Whether the request behind ``next_url`` asked for a fresh sign-in (it carries the note)."""
    return next_url is not None and FRESH_LOGIN in dict(parse_qsl(urlsplit(next_url).query))


class AuthorizationRequest:
    """The parameters of one authorization request, however it arrived (query or form)."""

    def __init__(self, pairs: Iterable[tuple[str, str]], secret_key: str) -> None:
        self.pairs = [(k, v) for k, v in pairs if k not in FORM_FIELDS]
        self._signer = URLSafeTimedSerializer(secret_key, salt="authserver.fresh-login")

    @property
    def _own_pairs(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.pairs if k != FRESH_LOGIN]

    def _digest(self) -> str:
        return hashlib.sha256(urlencode(sorted(self._own_pairs)).encode()).hexdigest()

    def url(self) -> str:
        """This request as a GET URL of the endpoint: the consent form's action, login's ``next``."""
        return f"{EndpointPath.AUTHORIZE}?{urlencode(self.pairs)}"

    def url_demanding_sign_in(self) -> str:
        """This request with a fresh note: sign-ins after this moment satisfy it."""
        micros = int(utcnow().timestamp() * 1_000_000)
        note = self._signer.dumps({"after": micros, "request": self._digest()})
        return f"{EndpointPath.AUTHORIZE}?{urlencode([*self._own_pairs, (FRESH_LOGIN, note)])}"

    def sign_in_demanded_at(self) -> datetime | None:
        """When this request first demanded a sign-in, if it carries a valid note for itself."""
        note = dict(self.pairs).get(FRESH_LOGIN)
        if note is None:
            return None
        try:
            found = self._signer.loads(note, max_age=FRESH_LOGIN_TTL)
        except BadData:
            return None
        if not isinstance(found, dict) or found.get("request") != self._digest() or not isinstance(
            found.get("after"), int
        ):
            return None
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=found["after"])
