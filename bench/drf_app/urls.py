"""``/unguarded``, ``/noop`` and ``/jwt``: the same ``APIView`` body with no authentication, with
an authentication and a permission class that check nothing (DRF's own cost for any), and with
the guard's."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from resource_guard.drf import GuardAuthentication, TokenHasScope

REPORTS = {"reports": [{"id": 1, "title": "Quarterly"}]}
NOBODY = object()


class Reports(APIView):
    def get(self, request: Request) -> Response:
        return Response(REPORTS)


class Unguarded(Reports):
    authentication_classes = ()
    permission_classes = (AllowAny,)


class NoopAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[object, None]:
        return NOBODY, None


class NoopPermission(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return True


class Noop(Reports):
    authentication_classes = (NoopAuthentication,)
    permission_classes = (NoopPermission,)


class Guarded(Reports):
    authentication_classes = (GuardAuthentication,)
    permission_classes = (TokenHasScope,)
    required_scopes = ("reports:read",)


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [
    path("unguarded", Unguarded.as_view()),
    path("noop", Noop.as_view()),
    path("jwt", Guarded.as_view()),
    path("healthz", healthz),
]
