"""Prometheus counters for resource_guard: off until :func:`enable` is called.

Needs the ``[prometheus]`` extra (``prometheus-client``). Until ``enable()`` the recording
functions return at once, so an app that does not want metrics pays one global read a request.
Labels are the backend's ``name`` and fixed outcome words, never a token, a client id or a path.

    import resource_guard.metrics
    resource_guard.metrics.enable()            # into prometheus_client's default registry
    resource_guard.metrics.enable(registry=r)  # or into your own

Then your app's own ``/metrics`` (``prometheus_client.make_wsgi_app()``, or
``make_asgi_app()``) exposes ``resource_guard_authentications_total{backend,outcome}``
(outcome ``success``, ``failure``, ``error`` for a backend that broke, ``anonymous``),
``resource_guard_jwks_fetches_total{outcome}`` (``ok``, ``error``) and the
``resource_guard_introspection_seconds`` histogram.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["authentication", "enable", "enabled", "introspection", "jwks_fetch"]


class _Metrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        from prometheus_client import REGISTRY, Counter, Histogram

        registry = REGISTRY if registry is None else registry
        self.authentications: Counter = Counter(
            "resource_guard_authentications", "Requests the backend chain decided, by backend and outcome.",
            ["backend", "outcome"], registry=registry)
        self.jwks_fetches: Counter = Counter(
            "resource_guard_jwks_fetches", "Key set fetches from the issuer, by outcome.", ["outcome"],
            registry=registry)
        self.introspection_seconds: Histogram = Histogram(
            "resource_guard_introspection_seconds", "Time to an introspection endpoint's answer.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0), registry=registry)


_metrics: _Metrics | None = None


def enable(registry: CollectorRegistry | None = None) -> None:
    """Start counting, into ``registry`` (prometheus_client's default one if not given).
    Once per process: a second call changes nothing."""
    global _metrics
    if _metrics is None:
        try:
            _metrics = _Metrics(registry)
        except ImportError:
            raise ImportError("resource_guard.metrics needs prometheus-client: "
                              "pip install 'resource-guard[prometheus]'") from None


def enabled() -> bool:
    return _metrics is not None


def authentication(backend: str, outcome: str) -> None:
    if _metrics is not None:
        _metrics.authentications.labels(backend, outcome).inc()


def jwks_fetch(outcome: str) -> None:
    if _metrics is not None:
        _metrics.jwks_fetches.labels(outcome).inc()


def introspection(seconds: float) -> None:
    if _metrics is not None:
        _metrics.introspection_seconds.observe(seconds)
