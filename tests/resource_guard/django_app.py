"""A small Django site for the adapter tests: DRF views, plain views, the RFC 9728 include.

``RESOURCE_GUARD`` points at :data:`guard` (and ``RESOURCE_GUARD_PROTECTED_RESOURCE`` at
:data:`protected_resource`), which each test's fixture replaces (overriding the
setting, so the adapter forgets the previous one).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from resource_guard import Guard, Principal, ProtectedResource
from resource_guard.django import require
from resource_guard.drf import TokenHasResourceScope, TokenHasScope

guard: Guard | None = None
protected_resource = ProtectedResource(resource="http://testserver/api", authorization_servers=["https://as.example"],
                                       scopes_supported=["reports:read", "items:read", "items:write"])


def who(request: Request) -> dict[str, object]:
    principal = request.auth
    assert isinstance(principal, Principal)
    return {"user": str(request.user), "authenticated": request.user.is_authenticated,
            "subject": principal.subject, "backend": principal.backend, "user_type": type(request.user).__name__}


class Reports(APIView):
    permission_classes = (TokenHasScope,)
    required_scopes = ("reports:read",)

    def get(self, request: Request) -> Response:
        return Response(who(request))


class Items(APIView):
    permission_classes = (TokenHasResourceScope,)
    required_scopes = ("items",)

    def get(self, request: Request) -> Response:
        return Response(who(request))

    def post(self, request: Request) -> Response:
        return Response({"created": True}, status=201)


class Item(APIView):
    permission_classes = (TokenHasResourceScope,)
    required_scopes = ("items",)
    lookup_url_kwarg = "item_id"

    def get(self, request: Request, item_id: int) -> Response:
        return Response({"id": item_id} | who(request))

    def delete(self, request: Request, item_id: int) -> Response:
        return Response(status=204)


class Whoami(APIView):
    permission_classes = (IsAuthenticated,)

    def get(self, request: Request) -> Response:
        return Response(who(request))


class Misconfigured(APIView):
    permission_classes = (TokenHasScope,)

    def get(self, request: Request) -> Response:
        return Response({})


@require(scopes=["reports:read"])
def plain_reports(request: HttpRequest) -> HttpResponse:
    principal = request.principal  # type: ignore[attr-defined]
    return JsonResponse({"subject": principal.subject})


@require(resource="items", item_arg="item_id")
def plain_item(request: HttpRequest, item_id: int) -> HttpResponse:
    return JsonResponse({"id": item_id, "subject": request.principal.subject})  # type: ignore[attr-defined]


@require(optional=True)
def plain_public(request: HttpRequest) -> HttpResponse:
    principal = request.principal  # type: ignore[attr-defined]
    return JsonResponse({"subject": principal.subject if principal else None})


@dataclass
class SiteUser:
    """What a project's RESOURCE_GUARD_USER hook might return (a Django user, usually)."""

    username: str
    is_active: bool = True
    is_authenticated: bool = True

    def __str__(self) -> str:
        return self.username


def site_user(principal: Principal) -> SiteUser | None:
    """Known users are the ones whose name starts with "user"; "retired" ones are inactive."""
    if principal.subject.startswith("retired"):
        return SiteUser(principal.subject, is_active=False)
    return SiteUser(principal.subject) if principal.subject.startswith("user") else None


SITE_DATABASE = "postgresql://app:s3cret-pw@db.internal/site"


def unreachable_user(principal: Principal) -> SiteUser | None:
    """A user hook whose database is down; the driver quotes its connection string."""
    raise ConnectionError(f"could not connect to {SITE_DATABASE}")


urlpatterns = [
    path("api/reports", Reports.as_view()),
    path("api/items", Items.as_view()),
    path("api/items/<int:item_id>", Item.as_view()),
    path("api/whoami", Whoami.as_view()),
    path("api/misconfigured", Misconfigured.as_view()),
    path("plain/reports", plain_reports),
    path("plain/items/<int:item_id>", plain_item),
    path("plain/public", plain_public),
    path("", include("resource_guard.django")),
]
