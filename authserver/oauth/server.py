"""Authlib's Flask AuthorizationServer wired to this server's storage and token service."""

from __future__ import annotations

from typing import Any, TypeGuard

from authlib.integrations.flask_oauth2 import (
    AuthorizationServer as FlaskAuthorizationServer,
)
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidClientError, OAuth2Request, UnsupportedResponseTypeError
from authlib.oauth2.rfc9207 import IssuerParameter as BaseIssuerParameter
from flask import Request, Response
from flask import request as flask_request
from sqlalchemy.exc import IntegrityError

from ..audit import Actor, EventType, record
from ..audit import sink as audit_sink
from ..audit.events import token_issued_line
from ..changes import Change, Changes, Kind
from ..clients.documents import ClientDocumentError, ClientDocuments, is_document_client_id
from ..extensions import db
from ..metrics import Metrics
from ..models import Client
from ..models.resources import URI_LENGTH
from .authlib_internals import authorization_grants
from .client_assertion import InvalidClientAssertion
from .clients import ClientCache
from .token_store import is_standalone, store_tokens
from .tokens import Issued, TokenService

CLIENT_AUTH_FAILED = "Client authentication failed: unknown client, wrong secret or method."


def is_plausible_client_id(client_id: str | None) -> TypeGuard[str]:
    """No client id is empty, longer than a URL may be, or holds a control character;
    PostgreSQL refuses a NUL in a query parameter outright, so such an id is unknown before
    any read."""
    return client_id is not None and 0 < len(client_id) <= URI_LENGTH and client_id.isprintable()


class IssuerParameter(BaseIssuerParameter):
    """RFC 9207 §2: every authorization response, errors included, names the issuer."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


class IssuerRequest(FlaskOAuth2Request):
    """Authlib refuses plain http by the request's own URL, whose host the client writes (a
    ``Host: x`` made every token request a 500) and which reads ``http`` behind a
    TLS-terminating proxy. This server's address is its issuer, so a request is judged at
    the issuer's URL with its own path and query (the issuer is https, or loopback: config)."""

    def __init__(self, request: Request, issuer: str) -> None:
        query = request.query_string.decode("latin-1")
        uri = issuer + request.path + (f"?{query}" if query else "")
        OAuth2Request.__init__(self, method=request.method, uri=uri, headers=request.headers)
        self._request = request
        self.payload = FlaskOAuth2Payload(request)


class AuthorizationServer(FlaskAuthorizationServer):
    def __init__(self, tokens: TokenService, metrics: Metrics, changes: Changes) -> None:
        super().__init__()
        self.tokens = tokens
        self.metrics = metrics
        self.clients = ClientCache(tokens.settings.client_cache_ttl, tokens.hasher, changes.live)
        changes.on(Kind.CLIENT, self._client_changed)
        changes.on(Kind.CLIENTS, self._client_changed)
        self.documents = ClientDocuments(tokens.settings, self.clients, tokens.hasher)
        self.register_extension(IssuerParameter(tokens.settings.issuer))

    def _client_changed(self, change: Change) -> None:
        self.clients.apply(change)  # whichever cache the server holds now

    # RFC 9207: IssuerParameter (above) names the issuer in every authorization response.
    names_issuer_in_responses = True

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return IssuerRequest(flask_request, self.tokens.settings.issuer)

    def query_client(self, client_id: str) -> Client | None:
        """A URL names a metadata document client (``clients.documents``); a document that
        cannot be used raises ``ClientDocumentError`` with the reason."""
        if not is_plausible_client_id(client_id):
            return None
        if is_document_client_id(client_id):
            return self.documents.client(client_id)
        return self.clients.get(client_id)

    def get_authorization_grant(self, request: OAuth2Request) -> Any:
        """Authlib's lookup, with an error that does not quote ``response_type``.

        RFC 6749 §4.1.2.1 limits ``error_description`` to printable ASCII without ``"`` or
        ``\\``, and Authlib raises ``ValueError`` (a 500) for a description that quotes
        anything else. The error is redirected only to a registered redirect URI.
        """
        if any(grant.check_authorization_endpoint(request) for grant, _ in authorization_grants(self)):
            return super().get_authorization_grant(request)
        raise UnsupportedResponseTypeError(
            request.payload.response_type,
            description="This response_type is not supported; use response_type=code.",
            redirect_uri=self._registered_redirect_uri(request),
        )

    def _registered_redirect_uri(self, request: OAuth2Request) -> str | None:
        client = self.query_client(request.payload.client_id or "")
        if client is None:
            return None
        requested = request.payload.redirect_uri
        if not requested:
            return client.get_default_redirect_uri()
        return requested if client.check_redirect_uri(requested) else None

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token") -> Client:
        """One answer for an unknown client and a wrong secret or key, so failures do not
        reveal which client ids exist (a refused client assertion may say more: see
        ``InvalidClientAssertion``)."""
        try:
            client: Client = super().authenticate_client(request, methods, endpoint)
            return client
        except ClientDocumentError:
            raise  # the document's own problem, about a public URL: say what it is
        except InvalidClientError as exc:
            if not isinstance(exc, InvalidClientAssertion):
                exc.description = CLIENT_AUTH_FAILED
            raise

    def save_issued(self, issued: Issued, request: OAuth2Request) -> None:
        """Store what a grant issued (``token_store``); a client deleted meanwhile is
        ``invalid_client``."""
        client: Client = request.client
        standalone = is_standalone(issued)
        if not standalone:  # a lone client-credentials row is its own event (``audit.trail``)
            user = getattr(request, "user", None)
            record(EventType.TOKEN_ISSUED, Actor.CLIENT, user=user.username if user else None,
                   client_id=client.client_id, grant_type=request.payload.grant_type, scope=issued.context.scope)
        try:
            store_tokens(issued, self.tokens.settings)
        except IntegrityError:
            db.session.rollback()
            self._client_vanished(request)
        if standalone:  # its row committed outside the session: the sink copies it here
            self._copy_to_sink(issued.rows[0], client)

    @staticmethod
    def _copy_to_sink(row: dict[str, Any], client: Client) -> None:
        target = audit_sink.current()
        if target is not None:
            target.write(token_issued_line(row["issued_at"], client.client_id, row["scope"], row["token_format"],
                                           row["remote_addr"], row["request_id"]))

    def _client_vanished(self, request: OAuth2Request) -> None:
        """A client deleted by another process while cached here fails its foreign key:
        answer invalid_client."""
        self.clients.invalidate(request.client.client_id)
        status = 401 if "Authorization" in request.headers else 400  # RFC 6749 §5.2
        raise InvalidClientError(CLIENT_AUTH_FAILED, status_code=status) from None

    def authorization_error_response(self, error: OAuth2Error) -> Response:
        """An error found before a grant could answer (RFC 6749 §4.1.2.1), redirected like
        the grant's own responses: with ``state`` and ``iss``."""
        response: Response = self.handle_error_response(None, error)
        self.execute_hook("after_create_authorization_response", response)
        return response
