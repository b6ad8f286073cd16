"""Outbound HTTP to the authorization server: one pooled session, bounded timeouts."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

#: (connect, read) seconds. A resource server waits on these while a client waits on it.
DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 5.0)

Timeout = float | tuple[float, float]


class FetchError(Exception):
    """The authorization server could not be reached or answered something unusable."""


def new_session(pool_size: int = 10) -> requests.Session:
    """A session whose connections are kept alive and reused across requests and threads."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def json_object(response: requests.Response) -> dict[str, Any]:
    """The response's JSON object, or FetchError for a non-200, non-JSON or non-object body."""
    if response.status_code != 200:
        raise FetchError(f"{response.request.method} {response.url} answered "
                         f"{response.status_code}")
    try:
        body = response.json()
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
