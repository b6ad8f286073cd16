"""The legacy-credential stores resource_guard's backends take, backed by this database.

They run without a Flask app — a resource server on another process points them at the
authorization server's database — so they build their own engine and read the server
secret from the same settings as the server (environment, TOML file, instance folder).
They never make a secret up: one that is not the server's would match no stored hash, so
without one they refuse to start, naming ``AUTHSERVER_SECRET_KEY``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from resource_guard.backends.api_tokens import APITokenRecord
from resource_guard.backends.basic import VerifiedUser

from .config import load_settings
from .database import make_engine
from .models import APIToken, User
from .models.users import user_named, user_subject
from .people.passwords import verify_password
from .secrets import SecretHasher, TokenKind, is_well_formed


class _DatabaseStore:
    def __init__(self, database_url: str | None = None, *, secret_key: str | None = None) -> None:
        if database_url is None or secret_key is None:
            settings = load_settings({"secret_key": secret_key} if secret_key else None, create_secret=False)
            database_url = database_url or settings.database_url
            secret_key = secret_key or settings.secret_key
        self._engine = make_engine(database_url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._hasher = SecretHasher(secret_key)

    def _session(self) -> Session:
        return self._sessions()


class APITokenStore(_DatabaseStore):
    """API tokens by keyed hash; a disabled user's tokens are not found."""

    def lookup(self, token: str) -> APITokenRecord | None:
        if not is_well_formed(token, TokenKind.API_TOKEN):
            return None
        # Core, not the ORM: one indexed join per request with no unit of work around it.
        query = (
            select(
                APIToken.id, APIToken.expires, APIToken.valid, APIToken.invalid_date, APIToken.invalid_reason,
                APIToken.policy, User.id.label("user_id"), User.username, User.is_active,
            )
            .join(User, User.id == APIToken.user_id)
            .where(APIToken.token_hash == self._hasher.hash(token))
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        if row is None or not row.is_active:
            return None
        return APITokenRecord(
            id=str(row.id),
            subject=user_subject(row.user_id),
            expires=row.expires,
            valid=row.valid,
            invalid_date=row.invalid_date,
            invalid_reason=row.invalid_reason,
            policy=row.policy or None,
            claims={"username": row.username, "api_token_id": row.id},
        )

    def touch_last_used(self, token_id: str, when: datetime) -> None:
        with self._session() as session:
            stamp = update(APIToken).where(APIToken.id == int(token_id))
            session.execute(stamp.values(last_used=when, last_updated=APIToken.last_updated))
            session.commit()


class UserPasswordVerifier(_DatabaseStore):
    """Username and password against the users table (argon2, constant time for unknown users)."""

    def verify(self, username: str, password: str) -> VerifiedUser | None:
        with self._session() as session:
            # The account the login form would find: "Alice" and its full-width form are alice.
            user = session.scalar(user_named(username))
        if not verify_password(user.password_hash if user else None, password) or user is None or not user.is_active:
            return None
        return VerifiedUser(subject=user.subject, claims={"username": user.username})
