"""The scrubbing filter masks credentials in any log line, text or JSON, and tags it with its request."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable

import pytest
from flask import Flask, g

from authserver.logs import MASK, JSONFormatter, LogFormat, ScrubbingFilter, install, scrub
from authserver.secrets import TokenKind, new_secret
from tests.scrub_cases import HOSTILE, KEPT, MASKED


@pytest.mark.parametrize("kind", list(TokenKind))
def test_prefixed_tokens_are_masked(kind: TokenKind) -> None:
    value = new_secret(kind)
    assert value not in scrub(f"issued {value} to someone")


def test_the_shared_cases_hold_a_token_of_each_kind() -> None:
    """resource_guard's suite cannot import authserver: the shared list carries one of each
    prefix, so both scrubbers' tests mask every kind this server issues."""
    prefixes = {prefix for line, _ in MASKED for prefix in re.findall(r"\b([a-z]+)_[0-9A-Za-z]{36}\b", line)}
    assert {kind.value for kind in TokenKind} <= prefixes


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
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token %s failed", (value,), sys.exc_info())
    assert ScrubbingFilter().filter(record)
    assert value not in record.getMessage() and value not in (record.exc_text or "")


def _record(message: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    record = logging.LogRecord("authserver.x", logging.WARNING, __file__, 1, message, args, exc_info)  # type: ignore[arg-type]
    assert ScrubbingFilter().filter(record)
    return record


def test_a_json_line_is_one_masked_object_with_the_request_id_and_fields() -> None:
    value = new_secret(TokenKind.ACCESS)
    record = _record("token %s refused", value)
    record.fields = {"client_id": "c1", "status": 401}
    line = json.loads(JSONFormatter().format(record))
    assert line["message"] == f"token {MASK} refused" and value not in json.dumps(line)
    assert (line["level"], line["logger"], line["request_id"]) == ("WARNING", "authserver.x", "-")
    assert (line["client_id"], line["status"]) == ("c1", 401)
    assert line["time"].endswith("+00:00")


def test_a_json_traceback_is_masked_and_stays_on_one_line() -> None:
    value = new_secret(TokenKind.REFRESH)
    try:
        raise ValueError(f"bad {value}")
    except ValueError:
        record = _record("failed", exc_info=sys.exc_info())
    text = JSONFormatter().format(record)
    assert "\n" not in text and value not in text
    assert "ValueError" in json.loads(text)["exception"]


def test_records_in_a_request_carry_its_id(app: Flask) -> None:
    with app.test_request_context("/"):
        g.request_id = "abc-123"
        assert _record("inside").request_id == "abc-123"  # type: ignore[attr-defined]
    assert _record("outside").request_id == "-"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("log_format", "parse"), [(LogFormat.TEXT, str), (LogFormat.JSON, json.loads)])
def test_install_switches_the_format_of_its_handler(log_format: LogFormat, parse: Callable[[str], object]) -> None:
    try:
        install("INFO", log_format)
        (handler,) = [h for h in logging.getLogger("authserver").handlers if getattr(h, "_authserver", False)]
        formatted = handler.format(_record("hello"))
        assert isinstance(parse(formatted), dict) == (log_format == LogFormat.JSON)
        assert log_format == LogFormat.JSON or "[-] authserver.x: hello" in formatted
    finally:
        install("INFO", LogFormat.TEXT)
