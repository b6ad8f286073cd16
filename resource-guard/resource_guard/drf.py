"""Django REST framework adapter (Django OAuth Toolkit's names, so DRF users feel at home).

``GuardAuthentication`` answers "who" (the backend chain); ``TokenHasScope`` and
``TokenHasResourceScope`` answer "may they" (:meth:`~resource_guard.guard.Guard.authorize`).
``request.auth`` is the :class:`~resource_guard.results.Principal`; ``request.user`` is a
:class:`PrincipalUser`, or what ``RESOURCE_GUARD_USER = "dotted.path"`` (a callable taking the
principal) returns for it; if the hook raises (the site's database is down), the answer is the
guard's 503 ``temporarily_unavailable`` with ``Retry-After``, and the traceback is logged
without the exception's message.

Refusals are raised as :class:`GuardRefusal`, which carries the guard's status, JSON body,
``WWW-Authenticate`` (as ``auth_header``) and ``Retry-After`` (as ``wait``): DRF's default
exception handler copies both headers onto the response, for a 403 too, so an
``insufficient_scope`` answer names the scope. A custom ``EXCEPTION_HANDLER`` should call DRF's
``exception_handler`` first, or copy those two attributes itself.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission

from resource_guard.django import get_guard, guard_request
from resource_guard.errors import AuthenticationRequired, InvalidToken, TemporarilyUnavailable
from resource_guard.failures import log_unavailable
from resource_guard.guard import Guard, Requirement
from resource_guard.results import AuthResult, Principal

if TYPE_CHECKING:  # rest_framework.views imports the authentication classes named in settings
    from rest_framework.request import Request as DRFRequest
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)


class GuardRefusal(APIException):
    """A refusal exactly as the guard decided it (status, body, challenge, Retry-After)."""

    def __init__(self, result: AuthResult) -> None:
        assert result.error is not None
        super().__init__(detail=result.error.to_json(), code=result.error.code)
        self.status_code = result.error.status
        self.auth_header = result.headers.get("WWW-Authenticate")
        self.wait = result.error.retry_after


class PrincipalUser:
    """``request.user`` for a principal with no Django user: authenticated, named by the
    principal's subject, with no Django permissions (scopes and policies decide instead)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.pk = self.id = self.username = principal.subject

    def get_username(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    def has_perms(self, perm_list: object, obj: object = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrincipalUser) and other.principal == self.principal

    def __hash__(self) -> int:
        return hash((self.principal.backend, self.principal.subject))

    def __str__(self) -> str:
        return self.username


@functools.cache
def _user_hook() -> Any:
    path = getattr(settings, "RESOURCE_GUARD_USER", None)
    if path is None:
        return PrincipalUser
    hook = import_string(path)
    if not callable(hook):
        raise ImproperlyConfigured(f"RESOURCE_GUARD_USER = {path!r} is not callable.")
    return hook


def _forget_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == "RESOURCE_GUARD_USER":
        _user_hook.cache_clear()


setting_changed.connect(_forget_settings)


class GuardAuthentication(BaseAuthentication):
    """The guard's backend chain as a DRF authentication class: ``(user, principal)``, ``None``
    for an anonymous request, :class:`GuardRefusal` for credentials that are presented and
    wrong (an invalid Bearer token never falls through to another scheme)."""

    def authenticate(self, request: DRFRequest) -> tuple[Any, Principal] | None:
        guard = get_guard()
        view_request = guard_request(request._request)
        result = guard.authenticate(view_request)
        if result.error is not None:
            raise GuardRefusal(result)
        principal = result.principal
        if principal is None:
            return None
        hook = _user_hook()
        try:
            user = hook(principal)
        except Exception as exc:  # e.g. the site's database is down: retry later, not a 500
            log_unavailable(logger, "RESOURCE_GUARD_USER", exc)
            raise GuardRefusal(guard.refuse(view_request, TemporarilyUnavailable(
                "The credentials could not be checked right now; retry later."), principal)) from None
        if user is None or not getattr(user, "is_active", True):
            raise GuardRefusal(guard.refuse(view_request, InvalidToken(
                "The credentials are valid, but their user is inactive or unknown here."), principal))
        return user, principal

    def authenticate_header(self, request: DRFRequest) -> str:
        """The first backend's challenge: a 401 for DRF's NotAuthenticated, as RFC 7235 wants."""
        result = get_guard().refuse(guard_request(request._request), AuthenticationRequired())
        return result.headers["WWW-Authenticate"]


class TokenHasScope(BasePermission):
    """The principal must hold every scope in the view's ``required_scopes``.

    Anonymous requests get the guard's 401 naming the scope; a principal without it gets a 403
    ``insufficient_scope`` naming it. A user signed in some other way (a session) has no
    scopes to check and is refused.
    """

    def get_requirement(self, view: APIView) -> Requirement:
        return Guard.requirement(scopes=_required_scopes(view))

    def has_permission(self, request: DRFRequest, view: APIView) -> bool:
        """The guard's own verdict (:meth:`~resource_guard.guard.Guard.decide`) on what
        :class:`GuardAuthentication` found, raised as DRF raises a refusal."""
        principal = request.auth if isinstance(request.auth, Principal) else None
        if principal is None and request.successful_authenticator is not None:
            return False
        found = AuthResult() if principal is None else AuthResult.success(principal)
        verdict = get_guard().decide(guard_request(request._request), self.get_requirement(view),
                                     _item_id(view), found)
        if verdict.error is not None:
            raise GuardRefusal(verdict)
        return True


class TokenHasResourceScope(TokenHasScope):
    """``required_scopes = ["items"]`` names a resource: ``items:read`` for GET/HEAD/OPTIONS,
    ``items:write`` for POST/PUT/PATCH, ``items:destroy`` for DELETE. A legacy API token's
    policy is evaluated for that resource and, on detail views, the item in the URL."""

    def get_requirement(self, view: APIView) -> Requirement:
        resources = _required_scopes(view)
        if len(resources) != 1:
            raise ImproperlyConfigured(f"{type(view).__name__}.required_scopes must name one resource for "
                                       f"TokenHasResourceScope, e.g. ['items'], not {resources!r}.")
        return Guard.requirement(resource=resources[0])


def _required_scopes(view: APIView) -> list[str]:
    scopes = getattr(view, "required_scopes", None)
    if not scopes or isinstance(scopes, str):
        raise ImproperlyConfigured(f"{type(view).__name__} must set required_scopes to a list of scopes "
                                   "to use TokenHasScope or TokenHasResourceScope.")
    return list(scopes)


def _item_id(view: APIView) -> str | None:
    """The id of the item a detail view addresses (its lookup URL keyword), for policies."""
    kwarg = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
    value = getattr(view, "kwargs", {}).get(kwarg) if kwarg else None
    return None if value is None else str(value)
