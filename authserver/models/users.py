"""People who log in at the authorization endpoint and own API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, String, select
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, validates

from resource_guard.ratelimit import caseless

from ..extensions import Model
from .types import UTCDateTime, utcnow

USERNAME_KEY_LENGTH = 255


def username_key(username: str) -> str:
    """The form two usernames are compared in: NFKC then case-folded (Unicode's
    identifier caseless match), so ``Alice``, ``ALICE`` and its full-width form are one account."""
    return caseless(username)


def _key_of_inserted_username(context: DefaultExecutionContext) -> str:
    parameters: dict[str, str] = context.get_current_parameters()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it unannotated
    return username_key(parameters["username"])


def user_subject(user_id: int) -> str:
    """The ``sub`` of tokens issued on a user's behalf; the colon keeps it apart from every
    client id (base62), so a person can never be mistaken for a client."""
    return f"user:{user_id}"


USERNAME_LENGTH = 150

class User(Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_LENGTH), unique=True)
    # Unique, so no two accounts differ only by case or Unicode form; sign-in looks this up.
    username_key: Mapped[str] = mapped_column(
        String(USERNAME_KEY_LENGTH), unique=True, default=_key_of_inserted_username
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # OpenID Connect Core §5.1 claims (``oidc/profile.py`` keeps them consistent): None is
    # "not given", so UserInfo leaves the claim out.
    email: Mapped[str | None] = mapped_column(String(254))
    email_verified: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # when those last changed

    @property
    def subject(self) -> str:
        return user_subject(self.id)

    @validates("username")
    def _keep_key(self, _: str, username: str) -> str:
        """A renamed user's key follows the name (the column default covers inserts)."""
        self.username_key = username_key(username)
        return username

    def get_user_id(self) -> int:  # Authlib's user protocol
        return self.id


def user_named(username: str) -> Select[User]:
    """The account ``username`` signs in to, whatever its case or Unicode form."""
    return select(User).where(User.username_key == username_key(username))
