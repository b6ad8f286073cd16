"""A person's OpenID Connect profile claims (Core §5.1): ``name``, ``email``, ``email_verified``.

One place changes them, so the rules hold whoever asks: a new address is unverified unless
the caller says otherwise (a verification belongs to the address it was made for), and
``updated_at`` moves only when a value really changes, as relying parties compare it to
decide whether to refetch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..models import User
from ..models.types import utcnow
from ..validation import InvalidField

EMAIL_MAX = 254  # RFC 5321 §4.5.3.1.3's path limit, less the angle brackets
NAME_MAX = 200
# One @, something before it, a dotted domain after it; no spaces or controls anywhere.
# Deliverability is the verifier's business; this only keeps obvious mistakes out.
EMAIL_SHAPE = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f.]+(\.[^@\s\x00-\x1f\x7f.]+)+")


class InvalidProfile(InvalidField):
    """A profile value refused, naming the field (``email`` or ``name``)."""

    error = "invalid_profile"


def checked_email(email: str) -> str:
    if len(email) > EMAIL_MAX or not EMAIL_SHAPE.fullmatch(email):
        raise InvalidProfile("email", f"{email!r} is not an email address like person@example.com")
    return email


def checked_name(name: str) -> str:
    name = name.strip()
    if len(name) > NAME_MAX or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise InvalidProfile("name", f"a name has at most {NAME_MAX} characters and no control characters")
    return name


@dataclass(frozen=True)
class ProfileChange:
    """What to change; ``None`` leaves a field as it is, an empty string removes it."""

    email: str | None = None
    email_verified: bool | None = None
    name: str | None = None


def apply_profile(user: User, change: ProfileChange) -> bool:
    """Check and apply ``change`` to ``user`` (not committed); True when anything changed.
    Nothing is applied when a value is refused."""
    email = None if change.email is None else (checked_email(change.email) if change.email else "")
    name = None if change.name is None else checked_name(change.name)
    if change.email_verified and not (user.email if email is None else email):
        raise InvalidProfile("email_verified", "only an email address can be verified: give one with it")
    before = (user.email, user.email_verified, user.name)
    if email is not None and (email or None) != user.email:
        user.email = email or None
        user.email_verified = False  # unless given below: the old address's check says nothing of this one
    if change.email_verified is not None:
        user.email_verified = change.email_verified
    if name is not None:
        user.name = name or None
    changed = (user.email, user.email_verified, user.name) != before
    if changed:
        user.updated_at = utcnow()
    return changed
