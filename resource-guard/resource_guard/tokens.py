"""The format of copyable tokens: ``<prefix>_<30 base62 entropy><6 base62 CRC32>``.

The prefix lets people and secret scanners recognise a leaked token (GitHub's ``ghp_``); the
checksum lets a typo or a made-up string be refused without a store lookup (Djblets'
vendor-checksum generator). authserver generates its tokens with these functions and
resource_guard checks them, so both sides agree on one definition.
"""

from __future__ import annotations

import re
import secrets
import zlib
from collections.abc import Iterable

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ENTROPY_LENGTH = 30   # 30 base62 characters: about 178 bits
CHECKSUM_LENGTH = 6   # 62**6 > 2**32, so any CRC32 fits

PREFIX_RE = re.compile(r"[a-z]{2,16}")
TOKEN_RE = re.compile(rf"([a-z]{{2,16}})_([0-9A-Za-z]{{{ENTROPY_LENGTH + CHECKSUM_LENGTH}}})")


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def generate_token(prefix: str) -> str:
    """A new random token with ``prefix`` (2-16 lowercase letters), e.g. ``rgat_…``."""
    if not PREFIX_RE.fullmatch(prefix):
        raise ValueError("A token prefix is 2 to 16 lowercase ASCII letters.")
    body = f"{prefix}_{''.join(secrets.choice(BASE62) for _ in range(ENTROPY_LENGTH))}"
    return body + _checksum(body)


def check_token_format(token: str, prefixes: Iterable[str] | None = None) -> bool:
    """Whether ``token`` has the right shape and checksum (and, if given, one of ``prefixes``).

    This says nothing about whether the token exists; it only spares the store junk.
    """
    match = TOKEN_RE.fullmatch(token)
    if match is None:
        return False
    if prefixes is not None and match.group(1) not in set(prefixes):
        return False
    body, checksum = token[:-CHECKSUM_LENGTH], token[-CHECKSUM_LENGTH:]
    return _checksum(body) == checksum


def token_prefix(token: str) -> str | None:
    """The prefix of a well-formed token (``rgat`` for ``rgat_…``), else None."""
    match = TOKEN_RE.fullmatch(token)
    return match.group(1) if match else None
