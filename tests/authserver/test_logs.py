"""The scrubbing filter masks credentials in any log line."""

from __future__ import annotations

import logging
import time

import pytest

from authserver.logs import MASK, ScrubbingFilter, scrub
from authserver.secrets import TokenKind, new_secret
from tests.scrub_cases import HOSTILE, KEPT, MASKED


@pytest.mark.parametrize("kind", list(TokenKind))
def test_prefixed_tokens_are_masked(kind: TokenKind) -> None:
    value = new_secret(kind)
    assert value not in scrub(f"issued {value} to someone")


@pytest.mark.parametrize(("line", "secret"), MASKED)
def test_credential_shapes_are_masked(line: str, secret: str) -> None:
    cleaned = scrub(line)
    assert secret not in cleaned and MASK in cleaned


@pytest.mark.parametrize("line", KEPT)
def test_ordinary_lines_are_untouched(line: str) -> None:
    assert scrub(line) == line


@pytest.mark.parametrize("line", HOSTILE, ids=lambda line: f"{line[:12]!r}x{len(line)}")
def test_a_hostile_line_is_scrubbed_in_linear_time(line: str) -> None:
    """Generous bound: these took seconds each under the unbounded patterns."""
    started = time.perf_counter()
    scrub(line)
    assert time.perf_counter() - started < 0.5


def test_the_filter_rewrites_formatted_records_and_tracebacks() -> None:
    value = new_secret(TokenKind.REFRESH)
    try:
        raise ValueError(f"bad {value}")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token %s failed", (value,), sys.exc_info())
    assert ScrubbingFilter().filter(record)
    assert value not in record.getMessage() and value not in (record.exc_text or "")
