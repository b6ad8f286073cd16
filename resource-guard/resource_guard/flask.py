"""Flask adapter: ``FlaskGuard``, the ``require`` decorator and ``principal``.

The only module that imports Flask. It builds a :class:`~resource_guard.request.Request` from
the WSGI environ, runs the framework-neutral :class:`~resource_guard.guard.Guard`, and turns a
refusal into a JSON error with the RFC 6750 headers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, cast

from flask import Flask, Response, current_app, g, has_request_context, request

from resource_guard.backends.base import AuthBackend
from resource_guard.guard import Guard
from resource_guard.protected_resource import DOCUMENT_HEADERS, ProtectedResource
from resource_guard.results import AuthResult, Principal
from resource_guard.wsgi import request_from_environ

F = TypeVar("F", bound=Callable[..., Any])

_G_KEY = "resource_guard_principal"


class FlaskGuard:
    """Protect Flask endpoints with a backend chain.

    Create it bound (``FlaskGuard(app, backends=[...])``) or unbound and bind it in the app
    factory with :meth:`init_app`; the backends hold no per-app state. With
    ``protected_resource`` the app also serves its RFC 9728 metadata at the well-known paths.
    """

    def __init__(self, app: Flask | None = None, backends: Sequence[AuthBackend] = (), *,
                 protected_resource: ProtectedResource | None = None) -> None:
        self.guard = Guard(backends, protected_resource=protected_resource)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        app.extensions["resource_guard"] = self
        resource = self.guard.protected_resource
        if resource is not None:
            document = resource.to_json()
            for path in resource.well_known_paths:
                app.add_url_rule(path, "resource_guard_metadata" + path, methods=["GET"],
                                 view_func=lambda: Response(document, headers=DOCUMENT_HEADERS))

    @property
    def principal(self) -> Principal | None:
        """The current request's principal; None when anonymous or outside a request."""
        if not has_request_context():
            return None
        return cast(Principal | None, g.get(_G_KEY))

    def require(self, scopes: Iterable[str] | None = None, resource: str | None = None,
                optional: bool = False, item_arg: str | None = None) -> Callable[[F], F]:
        """Decorate a view so that it runs only for an authorised request.

        ``scopes``: all of these are needed. ``resource``: the method-derived scope
        (``<resource>:read|write|destroy``) is needed, and a token policy is evaluated for
        this resource. ``item_arg``: the URL parameter holding the item id, for per-item
        policies. ``optional``: anonymous requests pass (``principal`` is None), but
        credentials that are presented must still be valid and sufficient.
        """
        requirement = self.guard.requirement(scopes, resource, optional)
        check = self.guard.check

        def decorator(view: F) -> F:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                view_request = request_from_environ(request.environ)
                item_id = kwargs.get(item_arg) if item_arg is not None else None
                result = check(view_request, requirement,
                               None if item_id is None else str(item_id))
                if result.error is not None:
                    return error_response(result)
                g.resource_guard_principal = result.principal
                return view(*args, **kwargs)

            return cast(F, wrapper)

        return decorator


def error_response(result: AuthResult) -> Response:
    """The JSON refusal: ``{"error", "error_description"}`` with the result's headers."""
    assert result.error is not None
    return current_app.response_class(
        json.dumps(result.error.to_json()), status=result.error.status,
        headers=dict(result.headers), mimetype="application/json")
