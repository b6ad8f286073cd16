"""RFC 6749 §4.1 authorization code grant with RFC 7636 PKCE, as RFC 9700 asks for it.

Authlib drives the flow; this module supplies storage and the rules Authlib leaves open:
codes are stored hashed, live ``authorization_code_ttl`` seconds, are bound to the client,
redirect URI and PKCE challenge, and are redeemed at most once even when several workers
race (the claim is one conditional UPDATE in the same transaction that stores the tokens).
A code also records the sign-in session it was made in and the OpenID Connect ``nonce``, which
the ID token of its exchange states (``id_tokens``).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, OAuth2Request, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from sqlalchemy import select, update

from ..audit import Actor, EventType, record
from ..database import rows_changed
from ..extensions import db
from ..models import AuthorizationCode, Client, Session, User
from ..models.types import utcnow
from ..secrets import TokenKind, is_well_formed, new_secret
from .grants import TokenIssuingMixin, narrowed_audience, settled_scope
from .id_tokens import NONCE_MAX_LENGTH, SignIn, refresh_allowed
from .names import CONFIDENTIAL_METHODS, AuthMethod, CodeChallengeMethod
from .revocation import revoke_grant
from .tokens import GrantContext, Issued

TOKEN_AUTH_METHODS: list[str] = [*CONFIDENTIAL_METHODS, AuthMethod.NONE]


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only (RFC 9700 §2.1.1): ``plain`` and a challenge without a method
    (which RFC 7636 §4.3 defines as plain) are refused; public clients and clients with
    ``require_pkce`` must send a challenge. A code issued without a challenge refuses a
    verifier (Authlib's downgrade check, RFC 9700 §4.8.2)."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = [CodeChallengeMethod.S256]
    CODE_CHALLENGE_METHODS: ClassVar[dict[str, Any]] = {
        CodeChallengeMethod.S256: CodeChallenge.CODE_CHALLENGE_METHODS[CodeChallengeMethod.S256],
    }

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        client: Client = grant.request.client
        if not data.get("code_challenge") and (client.is_public or client.require_pkce):
            raise InvalidRequestError("This client must use PKCE: send code_challenge and code_challenge_method=S256.")
        if data.get("code_challenge") and data.get("code_challenge_method") != CodeChallengeMethod.S256:
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(TokenIssuingMixin, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = TOKEN_AUTH_METHODS
    # The sign-in session of the person approving: the authorization endpoint sets it before
    # a code is made, and the code keeps its ``auth_time``, ``sid`` and ``amr``.
    sign_in: Session | None = None

    @staticmethod
    def validate_authorization_redirect_uri(request: OAuth2Request, client: Client) -> str:
        """Authlib's check, with an error that does not quote the URI: Authlib refuses an
        ``error_description`` holding ``"``, ``\\`` or non-ASCII text (RFC 6749 §4.1.2.1)
        with a ``ValueError``, and a URI such as ``https://bücher.example/`` holds them."""
        requested = request.payload.redirect_uri
        if requested and not client.check_redirect_uri(requested):
            raise InvalidRequestError("This redirect_uri is not registered for the client.")
        redirect_uri: str = grants.AuthorizationCodeGrant.validate_authorization_redirect_uri(request, client)
        return redirect_uri

    def validate_authorization_request(self) -> str:
        """Authlib's checks, then the ``nonce`` (OIDC Core §3.1.2.1) this server will store.
        The scope the code is for is the settled one (``validate_requested_scope``), not
        Authlib's fallback to everything the client has."""
        redirect_uri: str = super().validate_authorization_request()
        self.request.scope = self.context.scope
        nonce = self.request.payload.data.get("nonce")
        if nonce is not None and not 0 < len(nonce) <= NONCE_MAX_LENGTH:
            raise InvalidRequestError(f"nonce must be 1 to {NONCE_MAX_LENGTH} characters.", redirect_uri=redirect_uri)
        return redirect_uri

    def generate_authorization_code(self) -> str:
        """Prefixed and checksummed like every other secret (``asac_``), so a leaked code is
        recognisable and a mangled one is refused without a read."""
        return new_secret(TokenKind.CODE)

    def save_authorization_code(self, code: str, request: Any) -> None:
        if self.sign_in is None or self.sign_in.user_id != request.user.id:
            raise RuntimeError("the authorization endpoint gives the grant the approving person's sign-in session")
        now = utcnow()
        db.session.add(
            AuthorizationCode(
                code_hash=self.server.tokens.hasher.hash(code),
                client_pk=request.client.id,
                user_id=request.user.id,
                # Empty when the request omitted it; then the token request may too (§4.1.3).
                redirect_uri=request.payload.redirect_uri or "",
                scope=request.scope or "",
                audience=list(self.context.audience),
                code_challenge=request.payload.data.get("code_challenge"),
                code_challenge_method=request.payload.data.get("code_challenge_method"),
                auth_time=self.sign_in.auth_time,
                sid=self.sign_in.public_id,
                amr=list(self.sign_in.amr),
                nonce=request.payload.data.get("nonce"),
                created_at=now,
                expires_at=now + timedelta(seconds=self.server.tokens.settings.authorization_code_ttl),
                family_id=str(uuid.uuid4()),
            )
        )
        db.session.commit()

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        """The unexpired code issued to this client. A code already redeemed is a replay
        (RFC 6749 §4.1.2): everything its first redemption issued is revoked."""
        if not is_well_formed(code, TokenKind.CODE):
            return None
        row = db.session.scalar(
            select(AuthorizationCode).where(AuthorizationCode.code_hash == self.server.tokens.hasher.hash(code))
        )
        if row is None or row.client_pk != client.id:
            return None
        if row.used_at is not None:
            _replayed(row)
            return None
        return row if row.expires_at > utcnow() else None

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """Claim the code before minting: validation (client, redirect URI, PKCE) is done,
        and of concurrent redemptions exactly one UPDATE matches ``used_at IS NULL``. The
        claim commits together with the tokens, so a losing request that revokes the family
        waits for the winner's row lock and then sees its tokens."""
        code: AuthorizationCode = self.request.authorization_code
        # Before the claim: a request for a resource the code was not granted for leaves it usable.
        audience = narrowed_audience(code.audience, self.request.payload.datalist.get("resource", []))
        scope = settled_scope(code.scope, False, audience, self.offer_for(self.request.client))
        claimed = db.session.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.id == code.id, AuthorizationCode.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if rows_changed(claimed) != 1:
            db.session.rollback()
            _replayed(code)
            raise InvalidGrantError("This authorization code was already used.")
        sign_in = SignIn(code.auth_time, code.sid, tuple(code.amr or ()))
        self.context = GrantContext(audience, scope, family_id=code.family_id, sign_in=sign_in, nonce=code.nonce)
        response: tuple[int, dict[str, Any], list[tuple[str, str]]] = super().create_token_response()
        return response

    def generate_token(
        self, user: Any = None, scope: str | None = None, grant_type: str | None = None,
        expires_in: int | None = None, include_refresh_token: bool = True,
    ) -> Issued:
        """A refresh token as the client's grant types allow, and for OpenID Connect only
        with ``offline_access`` (``id_tokens.refresh_allowed``)."""
        client: Client = self.request.client
        allowed = refresh_allowed(client, self.context.scope)
        return super().generate_token(user, scope, grant_type, expires_in, include_refresh_token and allowed)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        user = authorization_code.user
        return user if user.is_active else None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Kept, marked used, until ``tokens purge``: a later replay must still be recognised."""


def _replayed(code: AuthorizationCode) -> None:
    """RFC 6749 §4.1.2: a code redeemed twice revokes everything its first redemption issued."""
    record(EventType.CODE_REPLAYED, Actor.CLIENT, user=code.user.username, client_id=code.client.client_id,
           family_id=code.family_id)
    revoke_grant(code.family_id)
