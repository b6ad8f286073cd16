"""Token shapes people copy: ``<prefix>_<entropy><checksum>``.

The idea of Djblets' vendor-checksum generator and GitHub's ``ghp_`` tokens: a
recognisable prefix lets secret scanners find a leaked token, and a CRC32 checksum lets
a resource server reject a mistyped or made-up token without a store lookup.
"""

from __future__ import annotations

import re
import secrets
import zlib
from collections.abc import Iterable

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ENTROPY_LENGTH = 30  # 30 base62 characters: ~178 bits
CHECKSUM_LENGTH = 6
_SHAPE = re.compile(r"([a-z]{2,16})_([0-9A-Za-z]{%d})([0-9A-Za-z]{%d})" % (ENTROPY_LENGTH, CHECKSUM_LENGTH))


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rem = divmod(number, 62)
        digits.append(BASE62[rem])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(body: str) -> str:
    """Base62 CRC32 of ``prefix_entropy``, zero-padded to six characters."""
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def generate_token(prefix: str) -> str:
    if not re.fullmatch(r"[a-z]{2,16}", prefix):
        raise ValueError("a token prefix is 2 to 16 lowercase letters")
    body = f"{prefix}_{''.join(secrets.choice(BASE62) for _ in range(ENTROPY_LENGTH))}"
    return body + checksum(body)


def check_token_format(token: str, prefixes: Iterable[str] | None = None) -> bool:
    """True if ``token`` has the shape, one of ``prefixes`` (any if None) and a valid checksum."""
    match = _SHAPE.fullmatch(token)
    if match is None or (prefixes is not None and match.group(1) not in prefixes):
        return False
    return secrets.compare_digest(checksum(f"{match.group(1)}_{match.group(2)}"), match.group(3))
