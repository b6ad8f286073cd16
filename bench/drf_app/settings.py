"""Settings of the bench's DRF app: examples/drf_project's, with the guard reduced to the one
backend the rows compare (issuer and audience from the bench's environment)."""

from __future__ import annotations

import os

from resource_guard import Guard
from resource_guard.backends import BearerJWTBackend

SECRET_KEY = "bench-only: the app keeps no sessions, forms or signed data"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "bench.drf_app.urls"
WSGI_APPLICATION = "bench.drf_app.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

RESOURCE_GUARD = "bench.drf_app.settings.guard"
# Views name their authentication and permission classes, so the unguarded one runs none.
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

guard = Guard([BearerJWTBackend(issuer=os.environ["BENCH_ISSUER"], audience=os.environ["BENCH_AUDIENCE"])])
