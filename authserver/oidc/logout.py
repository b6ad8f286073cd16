"""What an RP-Initiated Logout 1.0 request (§2) asks for, checked before anything happens.

The person may be sent back only to a ``post_logout_redirect_uri`` registered, exactly, for
the client the request identifies (by ``client_id`` or by the hint's audience, §3): a value
that is not registered is refused, never followed, so the endpoint is no open redirect.
Whether the session ends without asking is the caller's decision (``identifies``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from authlib.common.urls import add_params_to_uri

from ..models import Client, Session
from ..oauth.keys import KeyRing
from .id_token_hint import IdTokenHint, InvalidIdTokenHint, verify_id_token_hint


class InvalidLogoutRequest(ValueError):
    """A request that must not be acted on; the message is for the client's developers."""


@dataclass(frozen=True)
class LogoutRequest:
    hint: IdTokenHint | None
    client: Client | None
    redirect_uri: str | None  # registered for ``client``, exactly
    state: str | None

    def return_to(self) -> str | None:
        """Where to send the person once signed out: the URI with ``state`` (§3), or None."""
        if self.redirect_uri is None:
            return None
        return add_params_to_uri(self.redirect_uri, [("state", self.state)]) if self.state else self.redirect_uri

    def identifies(self, session: Session) -> bool:
        """True when the hint names this very sign-in: its person and, if it says, its
        ``sid``. Anything less is another person's or an earlier session, which is never
        ended without asking."""
        hint = self.hint
        if hint is None or hint.subject != session.user.subject:
            return False
        return hint.session_id is None or hint.session_id == session.public_id


def parse_logout_request(
    params: Mapping[str, str], keys: KeyRing, issuer: str, find_client: Callable[[str], Client | None]
) -> LogoutRequest:
    """Check ``id_token_hint``, ``client_id``, ``post_logout_redirect_uri`` and ``state``
    (``ui_locales`` is accepted; the pages speak one language)."""
    raw_hint = params.get("id_token_hint") or None
    try:
        hint = verify_id_token_hint(raw_hint, keys, issuer) if raw_hint else None
    except InvalidIdTokenHint as exc:
        raise InvalidLogoutRequest(str(exc)) from None
    client_id = params.get("client_id") or None
    if hint is not None and client_id is not None and client_id not in hint.audience:
        raise InvalidLogoutRequest("The client_id is not a client the id_token_hint was issued to.")
    client_id = client_id or (hint.client_id if hint else None)
    client = find_client(client_id) if client_id else None
    redirect_uri = params.get("post_logout_redirect_uri") or None
    if redirect_uri is not None:
        if client is None:
            raise InvalidLogoutRequest(
                "A post_logout_redirect_uri needs the client it is registered for: send client_id or id_token_hint."
            )
        if redirect_uri not in client.post_logout_redirect_uris:
            raise InvalidLogoutRequest("The post_logout_redirect_uri is not registered for this client.")
    return LogoutRequest(hint, client, redirect_uri, params.get("state") or None)
