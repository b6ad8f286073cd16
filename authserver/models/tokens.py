"""Issued tokens and authorization codes.

Access and refresh tokens share one table: both belong to a grant ``family_id`` (every token
descended from one authorization), so revoking a family is one indexed UPDATE. Opaque values
are found by their keyed hash; JWT access tokens by ``jti``. No secret is stored in clear.

On PostgreSQL ``tokens`` and ``authorization_codes`` are partitioned by expiry day
(``partitions``), so the hash and ``jti`` indexes cannot be unique across the table: the
values are unique by construction (hashes of 256-bit secrets, UUIDv7s with 74 random bits).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from ..oauth.names import TokenFormat
from .audit import ADDRESS_LENGTH, REQUEST_ID_LENGTH
from .clients import Client
from .types import BIG_ID, UTCDateTime, utcnow
from .users import User

ACCESS = "access"
REFRESH = "refresh"


def _partial_index(name: str, column: str) -> Index:
    """An index of the rows where ``column`` is set: most token rows leave one of these
    columns NULL, and indexing them would only cost every INSERT."""
    where = text(f"{column} IS NOT NULL")
    return Index(name, column, sqlite_where=where, postgresql_where=where)


class Token(Model):
    __tablename__ = "tokens"
    __table_args__ = (
        _partial_index("ix_tokens_token_hash", "token_hash"),
        _partial_index("ix_tokens_jti", "jti"),
        _partial_index("ix_tokens_family_id", "family_id"),
        _partial_index("ix_tokens_user_id", "user_id"),
        Index("ix_tokens_client_pk", "client_pk"),
        Index("ix_tokens_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str | None] = mapped_column(String(64))
    jti: Mapped[str | None] = mapped_column(String(64))
    family_id: Mapped[str | None] = mapped_column(String(36))
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text, default="")
    audience: Mapped[list[str]] = mapped_column(JSON, default=list)
    token_format: Mapped[str] = mapped_column(String(10), default=TokenFormat.OPAQUE)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A refresh token's grant family may not live past this, however often it rotates.
    family_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The sign-in a person's grant came from (OIDC Core §12.2: a refreshed ID token keeps
    # the original ``auth_time``); NULL for client credentials.
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sid: Mapped[str | None] = mapped_column(String(32))
    amr: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    # Where the token request came from: a client-credentials token's row is its own
    # ``token.issued`` audit event (``audit.trail``), so issuing writes nothing else.
    remote_addr: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    request_id: Mapped[str | None] = mapped_column(String(REQUEST_ID_LENGTH))

    client: Mapped[Client] = relationship(lazy="joined")
    user: Mapped[User | None] = relationship(lazy="joined")

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now

    # Authlib's TokenMixin, used by its refresh_token grant.
    def check_client(self, client: Client) -> bool:
        return self.client_pk == client.id

    def get_scope(self) -> str:
        return self.scope


class AuthorizationCode(Model):
    __tablename__ = "authorization_codes"
    __table_args__ = (
        Index("ix_authorization_codes_code_hash", "code_hash"),
        Index("ix_authorization_codes_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    audience: Mapped[list[str]] = mapped_column(JSON, default=list)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    # The sign-in session the code was made in: when and how the person authenticated
    # (``sid`` is the session's public id), and the OpenID Connect ``nonce`` to echo.
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sid: Mapped[str | None] = mapped_column(String(32))
    amr: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    nonce: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set by the one redemption that wins; a later one revokes this family.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    family_id: Mapped[str] = mapped_column(String(36))

    client: Mapped[Client] = relationship(lazy="joined")
    user: Mapped[User] = relationship(lazy="joined")

    # Authlib's AuthorizationCodeMixin, used by its authorization_code grant.
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class Consent(Model):
    """A user's remembered approval of a client for an exact, sorted scope set."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("uq_consents_user_client_scope", "user_id", "client_pk", "scope", unique=True),)
