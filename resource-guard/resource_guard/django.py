"""Django adapter: the configured guard, the ``require`` decorator, and the RFC 9728 view.

Settings (read on first use, re-read when a test overrides them):

- ``RESOURCE_GUARD``: dotted path to a :class:`~resource_guard.guard.Guard`.
- ``RESOURCE_GUARD_PROTECTED_RESOURCE`` (optional): dotted path to a
  :class:`~resource_guard.protected_resource.ProtectedResource`; challenges then carry
  ``resource_metadata`` and ``path("", include("resource_guard.django"))`` serves the document.

Only this module and :mod:`resource_guard.drf` import Django; they build a
:class:`~resource_guard.request.Request` from ``request.META`` and render the guard's refusals.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import re_path
from django.utils.module_loading import import_string
from django.views.decorators.http import require_safe

from resource_guard.guard import Guard
from resource_guard.protected_resource import DOCUMENT_HEADERS, WELL_KNOWN, ProtectedResource
from resource_guard.request import Request
from resource_guard.results import AuthResult
from resource_guard.wsgi import request_from_environ

F = TypeVar("F", bound=Callable[..., HttpResponse])


def _setting_object(name: str, kind: type[Any]) -> Any:
    path = getattr(settings, name, None)
    if path is None:
        return None
    if not isinstance(path, str):
        raise ImproperlyConfigured(f"{name} must be a dotted path to a {kind.__name__}, not {path!r}.")
    try:
        value = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{name} = {path!r} cannot be imported: {exc}") from exc
    if not isinstance(value, kind):
        raise ImproperlyConfigured(f"{name} = {path!r} names a {type(value).__name__}, not a {kind.__name__}.")
    return value


@functools.cache
def get_guard() -> Guard:
    """The guard named by ``RESOURCE_GUARD``, bound to ``RESOURCE_GUARD_PROTECTED_RESOURCE``."""
    guard = cast(Guard | None, _setting_object("RESOURCE_GUARD", Guard))
    if guard is None:
        raise ImproperlyConfigured('Set RESOURCE_GUARD to the dotted path of a resource_guard.Guard, '
                                   'e.g. RESOURCE_GUARD = "myproject.auth.guard".')
    resource = cast(ProtectedResource | None,
                    _setting_object("RESOURCE_GUARD_PROTECTED_RESOURCE", ProtectedResource))
    if resource is None or resource == guard.protected_resource:
        return guard
    if guard.protected_resource is not None:
        raise ImproperlyConfigured("RESOURCE_GUARD_PROTECTED_RESOURCE differs from the protected_resource "
                                   "the guard was built with; configure one of them.")
    return Guard(guard.backends, protected_resource=resource)


def _forget_settings(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("RESOURCE_GUARD"):
        get_guard.cache_clear()


setting_changed.connect(_forget_settings)


def guard_request(request: HttpRequest) -> Request:
    """The request view of a Django request (``META`` is a WSGI environ under WSGI and ASGI)."""
    return request_from_environ(request.META)


def refusal_response(result: AuthResult) -> JsonResponse:
    """The JSON refusal (``error``, ``error_description``, ``scope``) with the RFC 6750 headers."""
    assert result.error is not None
    return JsonResponse(result.error.to_json(), status=result.error.status, headers=dict(result.headers))


def require(scopes: Iterable[str] | None = None, resource: str | None = None, optional: bool = False,
            item_arg: str | None = None) -> Callable[[F], F]:
    """Decorate a plain Django view so that it runs only for an authorised request, with the
    principal in ``request.principal`` (None for an anonymous request on an ``optional`` view).

    The arguments mean what they mean for :meth:`resource_guard.flask.FlaskGuard.require`;
    ``item_arg`` names the URL keyword argument holding the item id for per-item policies.
    """
    requirement = Guard.requirement(scopes, resource, optional)

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            item_id = kwargs.get(item_arg) if item_arg is not None else None
            result = get_guard().check(guard_request(request), requirement,
                                       None if item_id is None else str(item_id))
            if result.error is not None:
                return refusal_response(result)
            request.principal = result.principal  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return cast(F, wrapper)

    return decorator


@require_safe
def protected_resource_metadata(request: HttpRequest, suffix: str = "") -> HttpResponse:
    """The RFC 9728 document at ``/.well-known/oauth-protected-resource`` and at the form
    suffixed with the resource's path; 404 elsewhere or when none is configured."""
    resource = get_guard().protected_resource
    if resource is None or WELL_KNOWN + suffix not in resource.well_known_paths:
        raise Http404("No protected resource metadata here.")
    return HttpResponse(resource.to_json(), headers=DOCUMENT_HEADERS)


#: ``path("", include("resource_guard.django"))`` at the root of the site's URLconf.
urlpatterns = [
    re_path(r"^\.well-known/oauth-protected-resource(?P<suffix>/.*)?$", protected_resource_metadata),
]
