"""X-Request-ID: a short printable id is kept and echoed; anything else is replaced."""

from __future__ import annotations

import re

import pytest
from flask import Flask

FRESH = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize("offered", ["abc-123", "0af7651916cd43dd8448eb211c80319c",
                                     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", "x" * 128])
def test_a_short_printable_id_is_kept_and_echoed(app: Flask, offered: str) -> None:
    response = app.test_client().get("/health/live", headers={"X-Request-ID": offered})
    assert response.headers["X-Request-ID"] == offered


@pytest.mark.parametrize("offered", ["x" * 129, "two words", 'quote"d', "new\\nline", "caf\u00e9", "<script>", ""])
def test_anything_else_is_replaced_by_a_fresh_id(app: Flask, offered: str) -> None:
    response = app.test_client().get("/health/live", headers={"X-Request-ID": offered})
    assert FRESH.fullmatch(response.headers["X-Request-ID"])


def test_each_request_without_one_gets_its_own(app: Flask) -> None:
    client = app.test_client()
    ids = {client.get("/health/live").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3 and all(FRESH.fullmatch(i) for i in ids)


def test_error_answers_echo_the_id_too(app: Flask) -> None:
    client = app.test_client()
    token = client.post("/oauth/token", data={"grant_type": "nonsense"}, headers={"X-Request-ID": "t-1"})
    missing = client.get("/no/such/page", headers={"X-Request-ID": "t-2"})
    assert (token.status_code, token.headers["X-Request-ID"]) == (400, "t-1")
    assert (missing.status_code, missing.headers["X-Request-ID"]) == (404, "t-2")
