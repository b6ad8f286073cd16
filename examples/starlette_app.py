"""The reports API on plain Starlette: ``GuardBackend`` in the authentication middleware and
``resource_guard.starlette.requires`` on the endpoints. Environment as for ``fastapi_app.py``::

    .venv/bin/uvicorn --app-dir examples --factory starlette_app:create_app --port 8003
"""

from __future__ import annotations

from reports_guard import backends, protected_resource
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from resource_guard.starlette import GuardBackend, principal, requires

REPORTS = {1: {"id": 1, "title": "Q3 revenue"}, 2: {"id": 2, "title": "Q4 forecast"}}
ITEMS = {1: {"id": 1, "name": "stapler"}, 2: {"id": 2, "name": "red stapler"}}


@requires(resource="reports")  # reports:read for GET, reports:write for POST
async def reports(request: Request) -> JSONResponse:
    if request.method == "POST":
        return JSONResponse({"created": True}, status_code=201)
    return JSONResponse({"reports": list(REPORTS.values()), "caller": request.user.display_name})


@requires(resource="reports", item_param="report_id")
async def report(request: Request) -> JSONResponse:
    found = REPORTS.get(request.path_params["report_id"])
    return JSONResponse(found) if found else JSONResponse({"error": "not_found"}, status_code=404)


@requires(scopes=["items:read"])
def items(request: Request) -> JSONResponse:  # a sync endpoint runs in the threadpool, as usual
    return JSONResponse({"items": list(ITEMS.values()), "scopes": request.auth.scopes})


@requires(resource="items", item_param="item_id")
async def item(request: Request) -> JSONResponse:
    if request.method == "DELETE":
        return JSONResponse(None, status_code=204)
    found = ITEMS.get(request.path_params["item_id"])
    return JSONResponse(found) if found else JSONResponse({"error": "not_found"}, status_code=404)


@requires(optional=True)
async def whoami(request: Request) -> JSONResponse:
    who = principal(request)
    if who is None:
        return JSONResponse({"anonymous": True})
    return JSONResponse({"subject": who.subject, "client_id": who.client_id, "backend": who.backend,
                         "scopes": sorted(who.scopes) if who.scopes is not None else None})


def create_app() -> Starlette:
    backend = GuardBackend(backends("starlette-reports:"),
                           protected_resource=protected_resource("Reports API (Starlette)"))
    return Starlette(
        routes=[*backend.routes,
                Route("/reports", reports, methods=["GET", "POST"]),
                Route("/reports/{report_id:int}", report, methods=["GET", "DELETE"]),
                Route("/items", items),
                Route("/items/{item_id:int}", item, methods=["GET", "DELETE"]),
                Route("/whoami", whoami)],
        middleware=[Middleware(AuthenticationMiddleware, backend=backend)])
