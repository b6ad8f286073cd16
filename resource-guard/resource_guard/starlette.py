"""Starlette adapter: ``GuardBackend``, ``requires`` and the RFC 9728 metadata routes.

``AuthenticationMiddleware(app, backend=GuardBackend(...))`` runs the backend chain once per
request, on the event loop without blocking it (:meth:`~resource_guard.guard.Guard.
authenticate_async`): ``request.auth.scopes`` are the token's scopes and ``request.user`` is a
:class:`PrincipalUser` (``request.user.principal``). A refusal is not answered by the
middleware, so endpoints that need no credentials keep working; :func:`requires` (the drop-in
for Starlette's own, which answers a bare 403 and never names the scope) answers it at the
endpoint with the RFC 6750 status, JSON body and challenge.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from resource_guard.asgi import MetadataEndpoint, refusal, request_from_scope
from resource_guard.backends.base import AuthBackend
from resource_guard.guard import Guard
from resource_guard.protected_resource import ProtectedResource
from resource_guard.request import Request
from resource_guard.results import AuthResult, Principal

F = TypeVar("F", bound=Callable[..., Any])

#: Where the middleware leaves the request's authentication for :func:`requires`.
STATE_KEY = "resource_guard"


@dataclass(slots=True)
class GuardState:
    """One request's authentication, kept in the ASGI scope under :data:`STATE_KEY` (not
    frozen: one is built per request, and a frozen ``__init__`` costs more)."""

    guard: Guard
    request: Request
    result: AuthResult


class PrincipalUser(BaseUser):
    """``request.user`` for an authenticated request; ``principal`` says who and what."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.subject

    @property
    def identity(self) -> str:
        return self.principal.subject


def make_guard(guard: Guard | Sequence[AuthBackend],
               protected_resource: ProtectedResource | None) -> Guard:
    """A :class:`Guard` from a guard or a backend list, with ``protected_resource`` if given."""
    if isinstance(guard, Guard):
        if protected_resource is None:
            return guard
        return Guard(guard.backends, protected_resource=protected_resource)
    return Guard(guard, protected_resource=protected_resource)


def metadata_routes(resource: ProtectedResource | None) -> list[BaseRoute]:
    """Routes serving ``resource``'s RFC 9728 document at its well-known paths (none if None)."""
    if resource is None:
        return []
    endpoint = MetadataEndpoint(resource)
    return [Route(path, endpoint, methods=["GET", "HEAD"], include_in_schema=False)
            for path in resource.well_known_paths]


def refusal_response(result: AuthResult) -> Response:
    """The JSON refusal for a failed ``result`` as a Starlette response."""
    status, body, headers = refusal(result)
    return Response(body, status_code=status, headers=headers)


class GuardBackend(AuthenticationBackend):
    """A Starlette ``AuthenticationBackend`` running a resource_guard chain.

    ``guard`` is a :class:`~resource_guard.guard.Guard` or its backend list. With
    ``protected_resource``, every challenge points at the RFC 9728 document, which
    :attr:`routes` serve (``Starlette(routes=[*backend.routes, ...])``).
    """

    def __init__(self, guard: Guard | Sequence[AuthBackend], *,
                 protected_resource: ProtectedResource | None = None) -> None:
        self.guard = make_guard(guard, protected_resource)

    @property
    def routes(self) -> list[BaseRoute]:
        """The RFC 9728 metadata routes (empty without a protected resource)."""
        return metadata_routes(self.guard.protected_resource)

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        """Run the chain; keep its result for :func:`requires`. Anonymous and refused
        requests alike reach the app unauthenticated (``requires`` answers the refusal)."""
        view = request_from_scope(conn.scope)
        result = await self.guard.authenticate_async(view)
        conn.scope[STATE_KEY] = GuardState(self.guard, view, result)
        principal = result.principal
        if principal is None:
            return None
        return AuthCredentials(sorted(principal.scopes or ())), PrincipalUser(principal)


def principal(conn: HTTPConnection) -> Principal | None:
    """The request's principal, or None when it is anonymous."""
    user = conn.scope.get("user")
    return user.principal if isinstance(user, PrincipalUser) else None


def _state(conn: HTTPConnection) -> GuardState:
    state = conn.scope.get(STATE_KEY)
    if not isinstance(state, GuardState):
        raise RuntimeError("resource_guard.starlette.requires needs "
                           "AuthenticationMiddleware(app, backend=GuardBackend(...)) in front of the app.")
    return state


def _request_index(endpoint: Callable[..., Any]) -> int:
    for index, parameter in enumerate(inspect.signature(endpoint).parameters.values()):
        if parameter.name == "request":
            return index
    raise TypeError(f'No "request" argument on endpoint {endpoint!r}.')


def requires(scopes: Iterable[str] | None = None, resource: str | None = None, *,
             optional: bool = False, item_param: str | None = None) -> Callable[[F], F]:
    """Let an endpoint run only for an authorised request; refuse others per RFC 6750.

    ``scopes``: all are needed. ``resource``: the method-derived scope
    (``<resource>:read|write|destroy``) is needed and an API token's policy is checked for it;
    ``item_param`` names the path parameter holding the item id. ``optional``: anonymous
    requests pass, but presented credentials must be valid. Sync endpoints run in the
    threadpool, as Starlette runs them.
    """
    requirement = Guard.requirement(scopes, resource, optional)

    def decorator(endpoint: F) -> F:
        index = _request_index(endpoint)
        is_async = inspect.iscoroutinefunction(endpoint)

        @functools.wraps(endpoint)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = kwargs.get("request", args[index] if index < len(args) else None)
            if not isinstance(request, StarletteRequest):
                raise TypeError(f'The "request" argument of {endpoint!r} is not a Request.')
            state = _state(request)
            item = request.path_params.get(item_param) if item_param is not None else None
            result = state.guard.decide(state.request, requirement, None if item is None else str(item),
                                        state.result)
            if result.error is not None:
                return refusal_response(result)
            if is_async:
                return await endpoint(*args, **kwargs)
            return await run_in_threadpool(endpoint, *args, **kwargs)

        return cast(F, wrapper)

    return decorator
