"""resource_guard: validate OAuth 2.0 bearer tokens and legacy credentials on a resource server.

The core (everything but the adapters :mod:`resource_guard.flask`, :mod:`resource_guard.django`,
:mod:`resource_guard.drf`, :mod:`resource_guard.starlette` and :mod:`resource_guard.fastapi`)
imports no web framework; its async half (:mod:`resource_guard.aio`, used by
``Guard.authenticate_async``/``check_async``) needs httpx and anyio, from the ``asgi`` extra.
"""

from resource_guard.errors import AuthError
from resource_guard.guard import Guard, Requirement
from resource_guard.protected_resource import ProtectedResource
from resource_guard.request import Headers, Request
from resource_guard.results import AuthResult, Expiry, Principal

__all__ = ["AuthError", "AuthResult", "Expiry", "Guard", "Headers", "Principal",
           "ProtectedResource", "Request", "Requirement"]
