"""Clients that register themselves: RFC 7591 ``POST /oauth/register`` and RFC 7592
``GET``/``PUT``/``DELETE /oauth/register/<client_id>``.

``dynamic_registration`` says who may register: nobody (``off``: the endpoint answers 404
and the metadata does not name it), holders of an initial access token (``initial-token``),
or anyone (``open``); either way each client address gets ``registration_rate_limit``
requests per ``registration_rate_window``. A registered client gets a registration access
token, kept only as its keyed hash, with which it reads, replaces or deletes its registration;
every read or update answers a new one (the old one stops working), as the hash cannot be
shown again. A wrong token, another client's, or an unknown client id all get the same 401.
The RFC 7592 endpoints keep working when registration is turned off, so clients registered
before can still read, update and delete themselves.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request, url_for
from sqlalchemy import select, update

from resource_guard import strictjson

from .. import audit
from ..appstate import state
from ..changes import Change, Kind, announce
from ..clients.metadata import ClientMetadata, InvalidClientMetadata
from ..clients.policy import ADMINISTRATOR_FIELDS, check_self_registration
from ..clients.registration_tokens import claim_use, is_usable
from ..clients.registry import apply_metadata, metadata_of, register_client
from ..database import rows_changed
from ..extensions import db
from ..models import Client
from ..models.clients import BY_SELF
from ..oauth.names import SECRET_METHODS, DynamicRegistration, EndpointPath
from ..secrets import TokenKind, new_secret

bp = Blueprint("registration", __name__)

JSON = "application/json"
# RFC 7592 §2.2: fields the server sets; a client echoing them back in an update is ignored.
SERVER_FIELDS = ("registration_access_token", "registration_client_uri", "client_secret_expires_at",
                 "client_id_issued_at")
NEVER_MATCHES = "-"  # compared against when there is no stored hash, so every path hashes once


class RegistrationRefused(Exception):
    """An RFC 7591 §3.2.2 / RFC 6750 §3.1 error answer."""

    def __init__(self, error: str, description: str, status: int = 400, headers: dict[str, str] | None = None):
        super().__init__(description)
        self.error, self.description, self.status, self.headers = error, description, status, headers or {}

    def response(self) -> Response:
        resp = _no_store(jsonify(error=self.error, error_description=self.description))
        resp.status_code = self.status
        resp.headers.update(self.headers)
        return resp


def _invalid_token(description: str) -> RegistrationRefused:
    return RegistrationRefused("invalid_token", description, 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'})


@bp.errorhandler(RegistrationRefused)
def refused(exc: RegistrationRefused) -> Response:
    return exc.response()


@bp.errorhandler(InvalidClientMetadata)
def invalid_metadata(exc: InvalidClientMetadata) -> Response:
    return RegistrationRefused(exc.error, exc.description).response()


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


def _bearer_token() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _metadata_document() -> dict[str, Any]:
    """The request's JSON object (RFC 7591 §3.1)."""
    if request.mimetype != JSON:
        raise RegistrationRefused("invalid_client_metadata", f"Send the client metadata as {JSON}.")
    try:
        document = strictjson.loads(request.get_data())
    except strictjson.TooDeep:
        too_deep = f"The client metadata nests deeper than {strictjson.MAX_DEPTH} levels."
        raise RegistrationRefused("invalid_client_metadata", too_deep) from None
    except (ValueError, UnicodeDecodeError):
        raise RegistrationRefused("invalid_client_metadata", "The request body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise RegistrationRefused("invalid_client_metadata", "The client metadata must be a JSON object.")
    if "software_statement" in document:
        raise RegistrationRefused("invalid_software_statement", "This server does not accept software statements.")
    return document


def _checked_metadata(document: dict[str, Any]) -> ClientMetadata:
    metadata = ClientMetadata.from_json({k: v for k, v in document.items() if k not in SERVER_FIELDS})
    check_self_registration(metadata, state().settings)
    return metadata


def _client_information(client: Client, registration_token: str, secret: str | None = None) -> Response:
    """RFC 7591 §3.2.1 / RFC 7592 §3: the registered metadata, the credentials, and where and
    how to manage the registration."""
    registered = {k: v for k, v in metadata_of(client).to_json().items() if k not in ADMINISTRATOR_FIELDS}
    body: dict[str, Any] = {
        "client_id": client.client_id,
        "client_id_issued_at": int(client.created_at.timestamp()),
        **registered,
        "registration_access_token": registration_token,
        "registration_client_uri": state().settings.issuer + url_for("registration.configuration",
                                                                     client_id=client.client_id),
    }
    if secret is not None:
        body["client_secret"] = secret
    if client.token_endpoint_auth_method in SECRET_METHODS:
        body["client_secret_expires_at"] = 0  # never
    return _no_store(jsonify(body))


@bp.post(EndpointPath.REGISTER)
def register() -> tuple[Response, int]:
    """Dynamic client registration (RFC 7591), open or with an initial access token as
    AUTHSERVER_DYNAMIC_REGISTRATION says; 404 when it is off."""
    app_state = state()
    mode = app_state.settings.dynamic_registration
    if mode == DynamicRegistration.OFF:
        abort(404, "Dynamic client registration is off on this server.")
    wait = app_state.registration_limiter.reserve("register", request.remote_addr)
    if wait is not None:
        raise RegistrationRefused("invalid_request", f"Too many registrations from this address; retry in {wait} "
                                  "seconds.", 429, {"Retry-After": str(wait)})
    initial_token = _bearer_token() if mode == DynamicRegistration.INITIAL_TOKEN else None
    if mode == DynamicRegistration.INITIAL_TOKEN and (initial_token is None
                                                       or not is_usable(app_state.hasher, initial_token)):
        raise _invalid_token("Registering a client needs a valid initial access token: Authorization: Bearer asiat_...")
    metadata = _checked_metadata(_metadata_document())
    if initial_token is not None and not claim_use(app_state.hasher, initial_token):
        db.session.rollback()
        raise _invalid_token("The initial access token was used up or revoked meanwhile.")
    registration_token = new_secret(TokenKind.REGISTRATION_ACCESS)
    client, secret = register_client(app_state.hasher, metadata, BY_SELF, app_state.hasher.hash(registration_token))
    return _client_information(client, registration_token, secret), 201


def _authenticated(client_id: str) -> tuple[Client, str]:
    """The client whose registration access token came as the Bearer token (RFC 7592 §2),
    and that token's hash."""
    token = _bearer_token()
    client: Client | None = None
    if 0 < len(client_id) <= 64 and client_id.isprintable():
        client = db.session.scalar(select(Client).where(Client.client_id == client_id))
    stored = client.registration_token_hash if client is not None else None
    matched = state().hasher.matches(token or "", stored or NEVER_MATCHES)
    if client is None or stored is None or not matched:
        raise _invalid_token("The registration access token is not valid for this client.")
    return client, stored


def _rotate(client: Client, old_hash: str) -> str:
    """A new registration access token, in place of the one just used, by a conditional
    UPDATE: of two requests with the same token, one wins (uncommitted)."""
    token = new_secret(TokenKind.REGISTRATION_ACCESS)
    result = db.session.execute(
        update(Client).where(Client.id == client.id, Client.registration_token_hash == old_hash)
        .values(registration_token_hash=state().hasher.hash(token))
        .execution_options(synchronize_session=False)
    )
    if rows_changed(result) != 1:
        db.session.rollback()
        raise _invalid_token("The registration access token is not valid for this client.")
    return token


@bp.route(EndpointPath.REGISTER + "/<client_id>", methods=["GET", "PUT", "DELETE"])
def configuration(client_id: str) -> Response | tuple[str, int]:
    """Client configuration (RFC 7592): read, replace or delete a self-registered client
    with its registration access token."""
    client, token_hash = _authenticated(client_id)
    if request.method == "DELETE":
        # Its tokens, codes and consents go with it (foreign keys ON DELETE CASCADE).
        db.session.delete(client)
        audit.record(audit.EventType.CLIENT_DELETED, audit.Actor.CLIENT, client_id=client_id)
        announce(Change(Kind.CLIENT, client_id))
        db.session.commit()
        return "", 204
    secret = None
    if request.method == "PUT":
        document = _metadata_document()
        if document.get("client_id") != client_id:
            raise RegistrationRefused("invalid_client_metadata", "client_id must be the one being updated.")
        sent_secret = document.get("client_secret")
        if sent_secret is not None and not (isinstance(sent_secret, str)
                                            and state().hasher.matches(sent_secret, client.client_secret_hash)):
            raise RegistrationRefused("invalid_client_metadata", "client_secret does not match the client's secret.")
        secret = apply_metadata(state().hasher, client, _checked_metadata(document))
        audit.record(audit.EventType.CLIENT_UPDATED, audit.Actor.CLIENT, client_id=client_id, via="RFC 7592")
    token = _rotate(client, token_hash)
    announce(Change(Kind.CLIENT, client_id))
    db.session.commit()
    return _client_information(client, token, secret)
