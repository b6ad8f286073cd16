"""Token shapes and keyed hashing (authserver.secrets)."""

from __future__ import annotations

import pytest
from cryptography.fernet import InvalidToken

from authserver.secrets import SecretHasher, TokenKind, is_well_formed, new_secret


@pytest.mark.parametrize("kind", list(TokenKind))
def test_new_secrets_carry_their_prefix_and_pass_their_own_check(kind: TokenKind) -> None:
    value = new_secret(kind)
    assert value.startswith(kind.value + "_")
    assert is_well_formed(value, kind)
    assert new_secret(kind) != value


def test_a_typo_fails_the_checksum() -> None:
    value = new_secret(TokenKind.ACCESS)
    flipped = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
    assert not is_well_formed(flipped, TokenKind.ACCESS)


def test_a_token_of_another_kind_is_not_accepted() -> None:
    assert not is_well_formed(new_secret(TokenKind.REFRESH), TokenKind.ACCESS)


@pytest.mark.parametrize("junk", ["", "asat_", "asat_short", "x" * 500, "asat_" + "é" * 36, "eyJ.a.b"])
def test_junk_is_not_well_formed(junk: str) -> None:
    assert not is_well_formed(junk, TokenKind.ACCESS)


def test_hash_is_keyed_stable_and_compared_in_full() -> None:
    a, b = SecretHasher("one"), SecretHasher("two")
    value = new_secret(TokenKind.ACCESS)
    assert a.hash(value) == a.hash(value)
    assert a.hash(value) != b.hash(value)
    assert value not in a.hash(value)
    assert a.matches(value, a.hash(value))
    assert not a.matches(value, b.hash(value))
    assert not a.matches(value, None)


def test_private_key_encryption_round_trips_and_is_keyed() -> None:
    a = SecretHasher("one")
    sealed = a.encrypt(b"private key")
    assert b"private key" not in sealed
    assert a.decrypt(sealed) == b"private key"
    with pytest.raises(InvalidToken):
        SecretHasher("two").decrypt(sealed)
