"""The shared token format: prefix, base62 entropy, CRC32 checksum."""

from __future__ import annotations

import re

import pytest

from resource_guard.tokens import BASE62, check_token_format, generate_token, token_prefix


def test_generated_token_has_the_documented_shape() -> None:
    token = generate_token("rgat")
    assert re.fullmatch(r"rgat_[0-9A-Za-z]{36}", token)
    assert check_token_format(token)
    assert check_token_format(token, prefixes=["rgat"])
    assert token_prefix(token) == "rgat"


def test_tokens_are_unique() -> None:
    assert len({generate_token("rgat") for _ in range(1000)}) == 1000


@pytest.mark.parametrize("prefix", ["", "a", "RGAT", "rg_at", "rg1", "x" * 17])
def test_bad_prefixes_are_refused_at_generation(prefix: str) -> None:
    with pytest.raises(ValueError):
        generate_token(prefix)


def test_a_single_typo_fails_the_checksum() -> None:
    token = generate_token("rgat")
    for position in range(5, len(token)):
        for replacement in "0aZ":
            if token[position] == replacement:
                continue
            typo = token[:position] + replacement + token[position + 1:]
            assert not check_token_format(typo), typo


@pytest.mark.parametrize("value", [
    "", "rgat_", "rgat", "not a token", "rgat_" + "A" * 35, "rgat_" + "A" * 37,
    "RGAT_" + "A" * 36, "rgat-" + "A" * 36, "rgat_" + "A" * 35 + "!",
])
def test_malformed_values_are_refused(value: str) -> None:
    assert not check_token_format(value)


def test_prefix_filter() -> None:
    token = generate_token("asapi")
    assert check_token_format(token, prefixes=("asapi", "rgat"))
    assert not check_token_format(token, prefixes=("rgat",))


def test_checksum_is_zero_padded_base62() -> None:
    # A CRC32 below 62**5 still yields a six-character checksum: the format check accepts
    # every generated token, whatever its CRC value.
    assert all(check_token_format(generate_token("ab")) for _ in range(2000))
    assert len(BASE62) == 62 and len(set(BASE62)) == 62
