"""The authentication chain and the per-endpoint checks (framework-neutral).

Backends are tried in order (DRF semantics): ``None`` passes to the next backend, a success
ends the chain, a failure ends it too: an invalid Bearer token never falls through to another
scheme. When nobody claims the request it is anonymous, and an endpoint that requires
authentication answers 401 with the first backend's challenge (RFC 6750 §3, RFC 7235 §3.1).

:meth:`Guard.authenticate_async` and :meth:`Guard.check_async` are the same decisions for an
event loop (ASGI adapters): each backend's :meth:`~AuthBackend.authenticate_async` answers a
cached credential inline and awaits only what must wait (a fetch on the async HTTP client, a
blocking store on a bounded worker thread), so the loop is never blocked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from resource_guard import metrics
from resource_guard.backends.base import AuthBackend
from resource_guard.errors import (
    AuthenticationRequired,
    AuthError,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    TemporarilyUnavailable,
)
from resource_guard.policy import policy_allows, scope_for
from resource_guard.protected_resource import ProtectedResource
from resource_guard.request import Request
from resource_guard.results import AuthResult, Principal
from resource_guard.scrub import presented_secrets, scrubbed_traceback

logger = logging.getLogger(__name__)

_ANONYMOUS = AuthResult()


@dataclass(frozen=True, slots=True)
class Requirement:
    """What one endpoint demands, computed once when the endpoint is declared."""

    scopes: frozenset[str] = frozenset()
    resource: str | None = None
    optional: bool = False

    def needed_scopes(self, method: str) -> frozenset[str]:
        """The scopes a request with ``method`` needs here."""
        if self.resource is None:
            return self.scopes
        return self.scopes | {scope_for(self.resource, method)}


def _counted(backend: str, result: AuthResult) -> AuthResult:
    """Count the chain's decision (``resource_guard.metrics``, a no-op unless enabled)."""
    metrics.authentication(backend, "success" if result.principal is not None else "failure")
    return result


class Guard:
    """Runs the backend chain and checks a principal against an endpoint's requirement."""

    def __init__(self, backends: Sequence[AuthBackend], *,
                 protected_resource: ProtectedResource | None = None) -> None:
        """``protected_resource``: this API's RFC 9728 metadata; every challenge then points at
        it (``resource_metadata``), and adapters serve it at its well-known paths."""
        if not backends:
            raise ValueError("A Guard needs at least one backend.")
        self.backends: tuple[AuthBackend, ...] = tuple(backends)
        self.protected_resource = protected_resource
        self._by_name = {b.name: b for b in reversed(self.backends)}
        self._schemes = {b.www_auth_scheme.lower(): b for b in reversed(self.backends)}

    @staticmethod
    def requirement(scopes: Iterable[str] | None = None, resource: str | None = None,
                    optional: bool = False) -> Requirement:
        """Declare an endpoint's needs: explicit ``scopes``, a method-derived ``resource``
        scope (``reports:read`` for GET...), and whether anonymous requests may pass."""
        if isinstance(scopes, str):
            raise TypeError("scopes must be a list of scope names, not a string.")
        return Requirement(frozenset(scopes or ()), resource, optional)

    def authenticate(self, request: Request) -> AuthResult:
        """Run the chain: a success, a failure, or anonymous (neither set)."""
        return self._advertised(self._run_chain(request))

    async def authenticate_async(self, request: Request) -> AuthResult:
        """:meth:`authenticate` on an event loop, never blocking it (needs the ``asgi`` extra
        when a backend must fetch or block)."""
        return self._advertised(await self._run_chain_async(request))

    def _run_chain(self, request: Request) -> AuthResult:
        if request.has_query_token():
            return self._query_token_refusal(request)
        for backend in self.backends:
            try:
                result = backend.authenticate(request)
            except Exception as exc:  # a broken store must not become a 500 or an accept
                return self._broken(backend, request, exc)
            if result is not None:
                return _counted(backend.name, result)
        return self._unclaimed(request)

    async def _run_chain_async(self, request: Request) -> AuthResult:
        if request.has_query_token():
            return self._query_token_refusal(request)
        for backend in self.backends:
            try:
                result = await backend.authenticate_async(request)
            except Exception as exc:  # as in _run_chain (cancellation is not an Exception)
                return self._broken(backend, request, exc)
            if result is not None:
                return _counted(backend.name, result)
        return self._unclaimed(request)

    def _query_token_refusal(self, request: Request) -> AuthResult:
        return _counted(self.backends[0].name, self.backends[0].fail(request, InvalidRequest(
            "Access tokens are not accepted in the query string; send them in the "
            "Authorization header.")))

    @staticmethod
    def _broken(backend: AuthBackend, request: Request, exc: Exception) -> AuthResult:
        logger.error("%s backend failed; answering 503\n%s", backend.name,
                     scrubbed_traceback(exc, presented_secrets(request.authorization)))
        metrics.authentication(backend.name, "error")
        return backend.fail(request, TemporarilyUnavailable(
            "The credentials could not be checked right now; retry later."))

    def _unclaimed(self, request: Request) -> AuthResult:
        """No backend took the request. If it used a scheme one of them speaks (a Bearer token
        no bearer backend recognised), that is an invalid token, not an anonymous request."""
        header = request.authorization
        if header:
            scheme = header.split(" ", 1)[0].lower()
            backend = self._schemes.get(scheme)
            if backend is not None:
                unknown = InvalidToken("The access token is not recognised.")
                return _counted(backend.name, backend.fail(request, unknown))
        metrics.authentication("none", "anonymous")
        return _ANONYMOUS

    def check(self, request: Request, requirement: Requirement,
              item_id: str | None = None) -> AuthResult:
        """Authenticate ``request`` and decide whether it may reach the endpoint.

        ``item_id`` is the id of the item addressed (a URL parameter), consulted by policies.
        """
        return self.decide(request, requirement, item_id, self.authenticate(request))

    async def check_async(self, request: Request, requirement: Requirement,
                          item_id: str | None = None) -> AuthResult:
        """:meth:`check` on an event loop: the same decision, authenticated by
        :meth:`authenticate_async`."""
        return self.decide(request, requirement, item_id, await self.authenticate_async(request))

    def decide(self, request: Request, requirement: Requirement, item_id: str | None,
               result: AuthResult) -> AuthResult:
        """The endpoint's verdict on an authentication ``result`` already obtained for
        ``request`` (by a middleware, say): ``result`` itself when it passes, else the refusal."""
        principal = result.principal
        if principal is None:
            if result.error is not None or requirement.optional:
                return result
            needed = " ".join(sorted(requirement.needed_scopes(request.method)))
            return self.refuse(request, AuthenticationRequired(needed_scope=needed))
        error = self.authorize(principal, request.method, requirement, item_id)
        if error is None:
            return result
        return self.refuse(request, error, principal)

    def refuse(self, request: Request, error: AuthError,
               principal: Principal | None = None) -> AuthResult:
        """A failure for ``error`` with the challenge of the backend that authenticated
        ``principal`` (the first backend's when there is none), pointing at the metadata."""
        backend = self.backends[0] if principal is None else self._by_name.get(
            principal.backend, self.backends[0])
        return self._advertised(backend.fail(request, error))

    def _advertised(self, result: AuthResult) -> AuthResult:
        if self.protected_resource is None:
            return result
        return self.protected_resource.advertise(result)

    @staticmethod
    def authorize(principal: Principal, method: str, requirement: Requirement,
                  item_id: str | None = None) -> AuthError | None:
        """Check scopes, then the policy; return the error to answer with, or None."""
        needed = requirement.needed_scopes(method)
        if needed and not principal.has_scopes(needed):
            return InsufficientScope(
                "The access token does not grant the scope this request needs.",
                needed_scope=" ".join(sorted(needed)))
        if principal.policy is not None and not policy_allows(
                principal.policy, method, requirement.resource, item_id):
            target = requirement.resource or "this endpoint"
            return InsufficientScope(
                f"This token's policy does not allow {method.upper()} on {target}.")
        return None
