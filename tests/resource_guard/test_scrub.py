"""resource_guard's scrubber on the cases both packages share (tests/scrub_cases.py)."""

from __future__ import annotations

import time

import pytest

from resource_guard.scrub import MASK, scrub
from tests.scrub_cases import HOSTILE, KEPT, MASKED


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
