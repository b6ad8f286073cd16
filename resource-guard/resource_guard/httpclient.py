"""Outbound HTTP to the authorization server: one pooled session, bounded timeouts.

The async twin (an httpx client per event loop) is :mod:`resource_guard.aio`; both read answers
with :func:`json_object`.
"""

from __future__ import annotations

from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter

from resource_guard import strictjson

#: (connect, read) seconds. A resource server waits on these while a client waits on it.
DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 5.0)

Timeout = float | tuple[float, float]


class FetchError(Exception):
    """The authorization server could not be reached or answered something unusable."""


class StatusError(FetchError):
    """The server answered, with a status other than 200: ``status`` says which."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class NonFiniteJSON(FetchError):
    """The answer is JSON but for NaN/Infinity (or a number past a float), which RFC 8259
    does not allow: a broken answer about what was asked, not an outage."""


def new_session(pool_size: int = 10) -> requests.Session:
    """A session whose connections are kept alive and reused across requests and threads."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class _Method(Protocol):
    @property
    def method(self) -> str | None: ...


class Answer(Protocol):
    """What :func:`json_object` reads: a requests or an httpx response."""

    @property
    def status_code(self) -> int: ...
    @property
    def content(self) -> bytes: ...
    @property
    def url(self) -> object: ...
    @property
    def request(self) -> _Method: ...


def json_object(response: Answer) -> dict[str, Any]:
    """The response's JSON object, or FetchError for a non-200, non-JSON or non-object body
    (NonFiniteJSON for one holding non-finite numbers)."""
    if response.status_code != 200:
        raise StatusError(f"{response.request.method} {response.url} answered "
                          f"{response.status_code}", response.status_code)
    try:
        body = strictjson.loads(response.content)
    except strictjson.NonFiniteNumber as exc:
        raise NonFiniteJSON(f"{response.url} answered JSON with a non-finite number ({exc})") from None
    except ValueError:
        raise FetchError(f"{response.url} did not answer JSON") from None
    if not isinstance(body, dict):
        raise FetchError(f"{response.url} did not answer a JSON object")
    return body


def get_json(session: requests.Session, url: str, timeout: Timeout
             ) -> tuple[dict[str, Any], requests.Response]:
    """GET ``url``; FetchError on any network failure or unusable answer."""
    try:
        response = session.get(url, timeout=timeout, allow_redirects=False,
                               headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise FetchError(f"GET {url} failed: {type(exc).__name__}") from None
    return json_object(response), response
