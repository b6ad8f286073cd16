"""Back-Channel Logout 1.0: sign logout tokens and deliver the outbox, off the request path.

Ending a session only writes ``backchannel_logouts`` rows (``models.backchannel``); this
module's ``LogoutDelivery`` drains them from a daemon thread in each server process. The
thread is woken when a notice is written (here at once; elsewhere through the change channel,
``changes``) and otherwise sleeps until the next retry is due: it does not poll. Not hearing of
changes (SQLite, a lost channel), it looks for other processes' notices every
``POLL_INTERVAL`` seconds while some client has a ``backchannel_logout_uri``, and every
``QUIET_POLL_INTERVAL`` seconds while none has. A row is
claimed with a conditional UPDATE (so two processes never both send it), POSTed as
``logout_token=<JWT>``, and on failure retried with exponential backoff until
``MAX_ATTEMPTS``; a claim that dies with its process is retried after ``CLAIM_LEASE``. The
token keeps the row's ``jti`` on every attempt, so a client can drop repeats.

Where tokens may go (SSRF): ``https`` URLs; ``http`` only to a loopback address and only
while the issuer itself is ``http`` on loopback (a development server). A self-registered
client's URL goes through ``fetch.post_form``: its host is resolved at each attempt, every
address must be public (unless the operator allow-listed the host), and the connection goes
to the address checked, so a DNS answer changed after registration cannot aim it inward. An
administrator's client may name an internal host. Redirects are not followed; nothing of the
token reaches the log.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask
from joserfc import jwt
from sqlalchemy import exists, func, select, update

from ..changes import Changes, Kind
from ..database import rows_changed
from ..extensions import db
from ..models import Client
from ..models.backchannel import DELIVERED, FAILED, BackchannelLogout
from ..models.clients import BY_ADMIN
from ..models.types import utcnow
from ..net.fetch import AddressRefused, FetchError, FetchLimits, Resolver, system_resolver
from ..net.fetch import post_form as post_form_checked
from ..net.hosts import is_loopback_http
from .keys import KeyRing

log = logging.getLogger("authserver.backchannel_logout")

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TTL = 120  # seconds: the token is made at each attempt, so it is always fresh
MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(seconds=5)  # then 10, 20, 40, 80 seconds
CLAIM_LEASE = timedelta(seconds=60)
POLL_INTERVAL = 1.0
QUIET_POLL_INTERVAL = 30.0  # no client listens for logouts: only to notice that one now does
TIMEOUT = 5.0
BATCH = 20


def may_deliver_to(uri: str, issuer: str) -> bool:
    """https anywhere; http only to a loopback address, and only from a development (http
    loopback) issuer."""
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.hostname:
        return True
    return is_loopback_http(uri, by_name=False) and is_loopback_http(issuer, by_name=False)


def logout_token(keys: KeyRing, issuer: str, notice: BackchannelLogout, now: datetime) -> str:
    """Back-Channel Logout 1.0 §2.4: ``iss``, ``aud``, ``iat``, ``exp``, ``jti``, ``events``,
    ``sub`` and ``sid``; never a ``nonce``; ``typ: logout+jwt`` (§2.4, RFC 8725 §3.11)."""
    iat = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": notice.client.client_id,
        "iat": iat,
        "exp": iat + LOGOUT_TOKEN_TTL,
        "jti": notice.jti,
        "sub": notice.subject,
        "sid": notice.sid,
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    key = keys.active(notice.client.id_token_signed_response_alg)  # the client's ID token algorithm
    header = {"alg": key.alg, "typ": "logout+jwt", "kid": key.kid}
    return jwt.encode(header, claims, key.key, algorithms=[key.alg])


def post_form(url: str, form: dict[str, str]) -> int:
    """One form POST, redirects not followed (they could lead anywhere); its HTTP status."""
    response = requests.post(url, data=form, timeout=TIMEOUT, allow_redirects=False)
    response.close()
    return response.status_code


@dataclass
class LogoutDelivery:
    """Drains the outbox of one app. ``drain`` does one pass (tests call it with their own
    clock); ``start`` runs it in a daemon thread every ``POLL_INTERVAL`` seconds."""

    app: Flask
    keys: KeyRing
    issuer: str
    allowed_hosts: frozenset[str] = frozenset()  # cimd_allowed_hosts: trusted for every client
    resolver: Resolver = system_resolver
    changes: Changes | None = None  # its LOGOUTS wake the thread, and its liveness ends polling
    stopped: threading.Event = field(default_factory=threading.Event)
    _wake: threading.Event = field(default_factory=threading.Event)

    def drain(self, now: datetime | None = None) -> int:
        """Attempt every notice due at ``now``; returns how many were attempted."""
        now = now or utcnow()
        due = db.session.scalars(
            select(BackchannelLogout)
            .where(BackchannelLogout.finished_at.is_(None), BackchannelLogout.next_attempt_at <= now)
            .order_by(BackchannelLogout.next_attempt_at)
            .limit(BATCH)
        ).all()
        attempted = 0
        for notice in due:
            if self._claim(notice, now):
                attempted += 1
                self._attempt(notice, now)
        return attempted

    def _claim(self, notice: BackchannelLogout, now: datetime) -> bool:
        claimed = db.session.execute(
            update(BackchannelLogout)
            .where(BackchannelLogout.id == notice.id, BackchannelLogout.attempts == notice.attempts,
                   BackchannelLogout.finished_at.is_(None))
            .values(attempts=notice.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if rows_changed(claimed) != 1:
            return False
        db.session.refresh(notice)
        return True

    def _attempt(self, notice: BackchannelLogout, now: datetime) -> None:
        client = notice.client
        uri, client_id, attempts = client.backchannel_logout_uri, client.client_id, notice.attempts
        trusted = client.registered_by == BY_ADMIN
        # Dated by the wall clock, whatever clock schedules the attempts.
        token = logout_token(self.keys, self.issuer, notice, utcnow())
        db.session.commit()  # no transaction stays open while the client is called
        problem = self._send(uri, token, trusted=trusted)
        done = {"finished_at": now, "outcome": DELIVERED}
        if problem is not None and (attempts >= MAX_ATTEMPTS or uri is None):
            done["outcome"] = FAILED
            log.warning("back-channel logout to client %s failed for good after %d attempts: %s",
                        client_id, attempts, problem)
        elif problem is not None:
            retry_at = now + FIRST_RETRY * 2 ** (attempts - 1)
            done = {"next_attempt_at": retry_at}
            log.info("back-channel logout to client %s failed (attempt %d of %d), retrying at %s: %s",
                     client_id, attempts, MAX_ATTEMPTS, retry_at.isoformat(), problem)
        db.session.execute(update(BackchannelLogout).where(BackchannelLogout.id == notice.id).values(**done)
                           .execution_options(synchronize_session=False))
        db.session.commit()

    def _send(self, uri: str | None, token: str, *, trusted: bool) -> str | None:
        """POST the token; what went wrong, in words for the log, or None. ``trusted``: an
        administrator chose the URL, so an internal host is fine."""
        if uri is None:
            return "the client no longer has a backchannel_logout_uri"
        if not may_deliver_to(uri, self.issuer):
            return "its backchannel_logout_uri is not https (http is for loopback on a development issuer)"
        form = {"logout_token": token}
        trusted = trusted or urlsplit(uri).hostname in self.allowed_hosts
        try:
            if urlsplit(uri).scheme == "http":  # loopback, from a development issuer (above)
                if not trusted:
                    return "its backchannel_logout_uri aims inward and is never called: a loopback http URL"
                status = post_form(uri, form)
            else:
                limits = FetchLimits(timeout=TIMEOUT, allow_private=trusted)
                status = post_form_checked(uri, form, limits, resolver=self.resolver)
        except AddressRefused as exc:
            return f"its backchannel_logout_uri aims inward and is never called: {exc.reason}"
        except FetchError as exc:
            return f"it could not be reached ({exc.reason})"
        except requests.RequestException as exc:
            return f"it could not be reached ({type(exc).__name__})"
        return None if 200 <= status < 300 else f"it answered HTTP {status}"

    def start(self) -> threading.Thread:
        if self.changes is not None:
            self.changes.on(Kind.LOGOUTS, lambda _change: self._wake.set())
        thread = threading.Thread(target=self._run, name="backchannel-logout", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopped.set()
        self._wake.set()

    def _run(self) -> None:
        wait: float | None = 0.0
        while not self.stopped.is_set():
            self._wake.wait(wait)
            self._wake.clear()
            if self.stopped.is_set():
                return
            try:
                with self.app.app_context():
                    self.drain()
                    wait = self.idle_wait()
            except Exception as exc:  # the database may be away for a while: keep the worker alive
                log.warning("back-channel logout worker could not drain its outbox: %s", type(exc).__name__)
                wait = POLL_INTERVAL

    def idle_wait(self, now: datetime | None = None) -> float | None:
        """Seconds to sleep unless woken. Hearing of every new notice: until the next one is
        due, or for as long as it takes. Not hearing: until the next look at the outbox (each
        look also takes what fell due meanwhile)."""
        if self.changes is None or not self.changes.live.is_set():
            listened = db.session.scalar(select(exists().where(Client.backchannel_logout_uri.is_not(None))))
            return POLL_INTERVAL if listened else QUIET_POLL_INTERVAL
        due = db.session.scalar(
            select(func.min(BackchannelLogout.next_attempt_at)).where(BackchannelLogout.finished_at.is_(None)))
        return None if due is None else max((due - (now or utcnow())).total_seconds(), 0.0)
