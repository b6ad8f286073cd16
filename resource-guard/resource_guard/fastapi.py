"""FastAPI adapter: ``FastAPIGuard``, a security dependency that returns the ``Principal``.

Endpoints declare what they need the way FastAPI users already do::

    guard = FastAPIGuard(backends=[...], protected_resource=ProtectedResource(...))
    app = FastAPI(); guard.init_app(app)

    @app.get("/reports")
    async def reports(principal: Principal = Security(guard, scopes=["reports:read"])): ...

Scopes come from :class:`fastapi.security.SecurityScopes` (so a dependency's scopes add up),
and the check runs on the event loop without blocking it
(:meth:`~resource_guard.guard.Guard.check_async`). A refusal is raised as :class:`GuardRefusal`
and answered with the RFC 6750 status, JSON body and challenge. The guard is a FastAPI security
scheme: the OpenAPI document describes it as OAuth 2.0 with the issuer's authorization-code
and client-credentials flows, read from the issuer's metadata, so Swagger UI's Authorize button
gets tokens from the authorization server.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.openapi import models as openapi
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.exceptions import HTTPException
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from resource_guard.asgi import request_from_scope
from resource_guard.backends.base import AuthBackend
from resource_guard.guard import Guard, Requirement
from resource_guard.httpclient import FetchError, new_session
from resource_guard.metadata import ServerMetadata
from resource_guard.protected_resource import ProtectedResource
from resource_guard.results import AuthResult, Principal
from resource_guard.starlette import make_guard, metadata_routes, refusal_response

logger = logging.getLogger(__name__)


class GuardRefusal(HTTPException):
    """A refusal as the guard decided it. :meth:`FastAPIGuard.init_app` answers it with the
    JSON error; without that handler FastAPI's own still sends the status and the challenge
    (the body then nests the error under ``detail``)."""

    def __init__(self, result: AuthResult) -> None:
        assert result.error is not None
        super().__init__(result.error.status, result.error.to_json(),  # type: ignore[arg-type]
                         headers=dict(result.headers))
        self.result = result


@dataclass
class _OpenAPIFlows:
    """The OAuth 2.0 flows shown in the OpenAPI document, once the issuer's metadata is read
    (shared by every dependency made from one guard)."""

    issuer: str | None
    metadata: ServerMetadata | None
    flows: openapi.OAuthFlows | None = None


def _issuer_of(guard: Guard) -> str | None:
    """The authorization server to describe: the protected resource's first, else a backend's."""
    if guard.protected_resource is not None and guard.protected_resource.authorization_servers:
        return guard.protected_resource.authorization_servers[0]
    for backend in guard.backends:
        issuers = getattr(backend, "issuers", None) or (getattr(backend, "issuer", None),)
        if isinstance(issuers[0], str):
            return issuers[0]
    return None


def flows_from_metadata(document: dict[str, Any], scopes: Sequence[str]) -> openapi.OAuthFlows | None:
    """OpenAPI flows for the grants the issuer supports (RFC 8414 §2): authorization code
    (with ``authorization_endpoint``) and client credentials; None if it offers neither."""
    token_url = document.get("token_endpoint")
    if not isinstance(token_url, str):
        return None
    grants = document.get("grant_types_supported", ["authorization_code", "implicit"])
    scope_map = {scope: scope for scope in scopes}
    authorize_url = document.get("authorization_endpoint")
    code = (openapi.OAuthFlowAuthorizationCode(authorizationUrl=authorize_url, tokenUrl=token_url,
                                               refreshUrl=token_url, scopes=scope_map)
            if "authorization_code" in grants and isinstance(authorize_url, str) else None)
    machine = (openapi.OAuthFlowClientCredentials(tokenUrl=token_url, scopes=scope_map)
               if "client_credentials" in grants else None)
    if code is None and machine is None:
        return None
    return openapi.OAuthFlows(authorizationCode=code, clientCredentials=machine)


class FastAPIGuard(SecurityBase):
    """A security dependency: ``Security(guard, scopes=[...])`` gives the ``Principal``.

    ``guard.resource("items", item_param="item_id")`` needs the method-derived scope and
    checks an API token's policy for the item; ``guard.optional`` lets anonymous requests
    through (the dependency gives None) while still refusing bad credentials. ``issuer`` is the
    authorization server the OpenAPI document points at (default: the protected resource's
    first, else the backends').
    """

    def __init__(self, backends: Guard | Sequence[AuthBackend] = (), *,
                 protected_resource: ProtectedResource | None = None, issuer: str | None = None,
                 scheme_name: str = "OAuth2", description: str | None = None) -> None:
        self.guard = make_guard(backends, protected_resource)
        self.scheme_name = scheme_name
        self.description = description
        self._resource: str | None = None
        self._item_param: str | None = None
        self._optional = False
        self._requirements: dict[tuple[str, ...], Requirement] = {}
        issuer = issuer or _issuer_of(self.guard)
        self._openapi = _OpenAPIFlows(issuer, None if issuer is None else ServerMetadata(
            issuer, session=new_session(1), timeout=(3.05, 5.0)))

    @property
    def model(self) -> openapi.SecurityBase:  # type: ignore[override]
        """The OpenAPI security scheme: OAuth 2.0 once the issuer's flows are known, a bearer
        scheme until then (or when there is no issuer to read them from)."""
        flows = self._openapi.flows
        if flows is None:
            return openapi.HTTPBearer(description=self.description)
        return openapi.OAuth2(flows=flows, description=self.description)

    def resource(self, name: str, *, item_param: str | None = None) -> FastAPIGuard:
        """A dependency needing ``<name>:read|write|destroy`` by method, as ``require(resource=)``."""
        dependency = copy.copy(self)
        dependency._resource, dependency._item_param, dependency._requirements = name, item_param, {}
        return dependency

    @property
    def optional(self) -> FastAPIGuard:
        """A dependency that gives None for anonymous requests instead of a 401."""
        dependency = copy.copy(self)
        dependency._optional, dependency._requirements = True, {}
        return dependency

    async def __call__(self, request: StarletteRequest, security_scopes: SecurityScopes) -> Principal | None:
        scopes = tuple(security_scopes.scopes)
        requirement = self._requirements.get(scopes)
        if requirement is None:  # once per distinct scope list: endpoints declare a handful
            requirement = self._requirements[scopes] = self.guard.requirement(scopes, self._resource,
                                                                              self._optional)
        item = request.path_params.get(self._item_param) if self._item_param is not None else None
        result = await self.guard.check_async(request_from_scope(request.scope), requirement,
                                              None if item is None else str(item))
        if result.error is not None:
            raise GuardRefusal(result)
        return result.principal

    def init_app(self, app: FastAPI) -> None:
        """Answer refusals with the JSON error, serve the RFC 9728 metadata, and have the
        OpenAPI document read the issuer's flows (fetched asynchronously on its first request,
        retried on later ones while the issuer is unreachable). Swagger UI uses PKCE."""
        app.add_exception_handler(GuardRefusal, _refusal_handler)
        app.router.routes.extend(metadata_routes(self.guard.protected_resource))
        if app.swagger_ui_init_oauth is None:
            app.swagger_ui_init_oauth = {"usePkceWithAuthorizationCodeGrant": True}

        async def flows_first() -> None:
            if self._openapi.flows is None and await self.load_flows():
                app.openapi_schema = None  # built without the flows: build it again

        for route in app.router.routes:
            if isinstance(route, Route) and route.path == app.openapi_url:
                route.app = _Before(flows_first, route.app)

    async def load_flows(self) -> bool:
        """Read the issuer's metadata into the OpenAPI flows; False if it cannot be read."""
        state = self._openapi
        if state.metadata is None:
            return False
        try:
            document = await state.metadata.document_async()
        except FetchError as exc:
            logger.warning("OpenAPI: the issuer's metadata is unavailable (%s); describing a "
                           "bearer scheme until it can be read", exc)
            return False
        resource = self.guard.protected_resource
        scopes = (resource.scopes_supported if resource is not None and resource.scopes_supported
                  else document.get("scopes_supported") or ())
        state.flows = flows_from_metadata(document, [s for s in scopes if isinstance(s, str)])
        return state.flows is not None


class _Before:
    """An ASGI app that awaits ``first`` before handing the request to ``endpoint`` (FastAPI's
    OpenAPI endpoint is sync inside, so the flows are fetched here, on the loop)."""

    def __init__(self, first: Callable[[], Awaitable[None]], endpoint: ASGIApp) -> None:
        self.first, self.endpoint = first, endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.first()
        await self.endpoint(scope, receive, send)


async def _refusal_handler(request: StarletteRequest, exc: Exception) -> Response:
    assert isinstance(exc, GuardRefusal)
    return refusal_response(exc.result)
