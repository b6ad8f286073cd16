"""The scrubbing filter masks credentials in any log line."""

from __future__ import annotations

import logging

import pytest

from authserver.logs import MASK, ScrubbingFilter, scrub
from authserver.secrets import TokenKind, new_secret


@pytest.mark.parametrize("kind", list(TokenKind))
def test_prefixed_tokens_are_masked(kind: TokenKind) -> None:
    value = new_secret(kind)
    assert value not in scrub(f"issued {value} to someone")


@pytest.mark.parametrize(
    "line, secret",
    [
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("Authorization: Bearer some-opaque-value-123", "some-opaque-value-123"),
        ("{'access_token': 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'}", "eyJhbGciOiJFUzI1NiJ9"),
        ("client_secret=hunter2hunter2&grant_type=x", "hunter2hunter2"),
        ('{"password": "correct horse"}', "correct"),
        ("code_verifier=abcdefghijk", "abcdefghijk"),
    ],
)
def test_credential_shapes_are_masked(line: str, secret: str) -> None:
    cleaned = scrub(line)
    assert secret not in cleaned and MASK in cleaned


def test_ordinary_lines_are_untouched() -> None:
    line = '127.0.0.1 "POST /oauth/token" 200 598 token_type=Bearer'
    assert scrub(line) == line


def test_the_filter_rewrites_formatted_records_and_tracebacks() -> None:
    value = new_secret(TokenKind.REFRESH)
    try:
        raise ValueError(f"bad {value}")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token %s failed", (value,), sys.exc_info())
    assert ScrubbingFilter().filter(record)
    assert value not in record.getMessage() and value not in (record.exc_text or "")
