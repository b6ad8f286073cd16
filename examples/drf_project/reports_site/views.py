"""Reports (an explicit scope) and items (method-derived scopes, per-item API-token policies)."""

from __future__ import annotations

from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from resource_guard import Principal
from resource_guard.drf import TokenHasResourceScope, TokenHasScope

REPORTS = [{"id": 1, "title": "Q3 revenue"}, {"id": 2, "title": "Q4 forecast"}]
ITEMS = {1: {"id": 1, "name": "stapler"}, 2: {"id": 2, "name": "red stapler"}}


class Reports(APIView):
    permission_classes = (TokenHasScope,)
    required_scopes = ("reports:read",)

    def get(self, request: Request) -> Response:
        return Response({"reports": REPORTS, "caller": request.user.get_username()})


class Items(APIView):
    """``items:read`` to list, ``items:write`` to create."""

    permission_classes = (TokenHasResourceScope,)
    required_scopes = ("items",)

    def get(self, request: Request) -> Response:
        return Response({"items": list(ITEMS.values())})

    def post(self, request: Request) -> Response:
        return Response({"created": True}, status=status.HTTP_201_CREATED)


class Item(APIView):
    """``items:read`` / ``items:destroy``; an API token's policy may name the item id."""

    permission_classes = (TokenHasResourceScope,)
    required_scopes = ("items",)
    lookup_url_kwarg = "item_id"

    def get(self, request: Request, item_id: int) -> Response:
        if item_id not in ITEMS:
            return Response({"error": "not_found"}, status=status.HTTP_404_NOT_FOUND)
        return Response(ITEMS[item_id])

    def delete(self, request: Request, item_id: int) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)


class Whoami(APIView):
    """Open to anyone; says who the credentials (if any) belong to."""

    permission_classes = (AllowAny,)

    def get(self, request: Request) -> Response:
        principal = request.auth
        if not isinstance(principal, Principal):
            return Response({"anonymous": True})
        return Response({"subject": principal.subject, "client_id": principal.client_id,
                         "backend": principal.backend,
                         "scopes": sorted(principal.scopes) if principal.scopes is not None else None})
