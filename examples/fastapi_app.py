"""The reports API on FastAPI, protected by resource_guard, against a local authserver.

Run the authorization server (``make run``), register this API's introspection client, then
serve it under uvicorn (environment as for ``protected_api.py``; see ``reports_guard.py``)::

    export ISSUER=http://127.0.0.1:5000 AUDIENCE=https://api.example
    export RS_CLIENT_ID=... RS_CLIENT_SECRET=...   # from the line below
    .venv/bin/authserver clients create --name reports-api --resource-server https://api.example --json
    .venv/bin/uvicorn --app-dir examples --factory fastapi_app:create_app --port 8002

``/docs`` is Swagger UI: its Authorize button gets a token from the authserver (authorization
code with PKCE, or client credentials), for a client registered with the redirect URI
``http://127.0.0.1:8002/docs/oauth2-redirect``.
"""

# No ``from __future__ import annotations``: FastAPI reads the dependencies from the
# annotations, and string annotations could not name the guards local to create_app().
from typing import Annotated, Any

from fastapi import FastAPI, Response, Security
from reports_guard import backends, protected_resource

from resource_guard import Principal
from resource_guard.fastapi import FastAPIGuard

REPORTS = {1: {"id": 1, "title": "Q3 revenue"}, 2: {"id": 2, "title": "Q4 forecast"}}
ITEMS = {1: {"id": 1, "name": "stapler"}, 2: {"id": 2, "name": "red stapler"}}


def create_app() -> FastAPI:
    guard = FastAPIGuard(backends("fastapi-reports:"), protected_resource=protected_resource("Reports API (FastAPI)"))
    app = FastAPI(title="Reports API (FastAPI example)")
    guard.init_app(app)
    reports = guard.resource("reports")  # reports:read for GET, :write for POST, :destroy for DELETE
    report = guard.resource("reports", item_param="report_id")  # ...and a token policy may name the id
    item = guard.resource("items", item_param="item_id")

    @app.get("/reports")
    async def list_reports(principal: Annotated[Principal, Security(reports)]) -> dict[str, Any]:
        return {"reports": list(REPORTS.values()), "caller": principal.subject}

    @app.post("/reports", status_code=201)
    async def create_report(principal: Annotated[Principal, Security(reports)]) -> dict[str, Any]:
        return {"created": True}

    @app.get("/reports/{report_id}")
    async def get_report(report_id: int, response: Response, principal: Annotated[Principal, Security(report)]) -> Any:
        if report_id not in REPORTS:
            response.status_code = 404
            return {"error": "not_found"}
        return REPORTS[report_id]

    @app.get("/items")
    async def list_items(principal: Annotated[Principal, Security(guard, scopes=["items:read"])]) -> dict[str, Any]:
        return {"items": list(ITEMS.values())}

    @app.post("/items", status_code=201)
    async def create_item(principal: Annotated[Principal, Security(guard, scopes=["items:write"])]) -> dict[str, Any]:
        return {"created": True}

    @app.get("/items/{item_id}")
    async def get_item(item_id: int, response: Response, principal: Annotated[Principal, Security(item)]) -> Any:
        if item_id not in ITEMS:
            response.status_code = 404
            return {"error": "not_found"}
        return ITEMS[item_id]

    @app.delete("/items/{item_id}", status_code=204)
    async def delete_item(item_id: int, principal: Annotated[Principal, Security(item)]) -> None:
        return None

    @app.get("/whoami")
    async def whoami(principal: Annotated[Principal | None, Security(guard.optional)]) -> dict[str, Any]:
        if principal is None:
            return {"anonymous": True}
        return {"subject": principal.subject, "client_id": principal.client_id, "backend": principal.backend,
                "scopes": sorted(principal.scopes) if principal.scopes is not None else None}

    return app
