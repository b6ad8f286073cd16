"""``GET /metrics`` for Prometheus, and the per-request HTTP counters behind it.

Only a peer whose address is in ``metrics_allow`` may read it: the TCP peer's address
(``client_address.PEER``), never a forwarded header, even from a trusted proxy. The route template, not
the path, labels each request, so ``/oauth/register/<client_id>`` is one series however many
clients there are, and a path that matches no route is ``unmatched``.
"""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, abort, g, request

from ..appstate import state
from .client_address import PEER, is_in
from .request_id import time_requests

bp = Blueprint("metrics", __name__)
PATH = "/metrics"
UNMATCHED = "unmatched"
# The text format every Prometheus reads (the names here need none of 1.0.0's escaping).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"




@bp.get(PATH)
def metrics() -> Response:
    """Prometheus text exposition of the server's counters, summed over its workers."""
    if not is_in(request.environ.get(PEER, request.remote_addr), state().settings.metrics_allow):
        abort(403, "metrics are answered only to the addresses in AUTHSERVER_METRICS_ALLOW")
    response = Response(state().metrics.exposition(), content_type=CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


def _count(response: Response) -> Response:
    started = g.get("request_started")  # set by web.request_id's clock, unless a hook before it answered
    if started is not None:
        endpoint = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        state().metrics.http_request(endpoint, response.status_code, time.perf_counter() - started)
    return response


def init_app(app: Flask, enabled: bool) -> None:
    """Serve ``/metrics`` and count every answer, unless ``metrics = false`` (then neither
    costs a request anything)."""
    if enabled:
        time_requests(app)
        app.after_request(_count)
        app.register_blueprint(bp)
