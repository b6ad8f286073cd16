"""Settings for the example DRF API; everything site-specific comes from the environment.

Run the authorization server (``make run``), register this API's introspection client, then::

    export ISSUER=http://127.0.0.1:5000 AUDIENCE=https://api.example
    export RS_CLIENT_ID=... RS_CLIENT_SECRET=...   # authserver clients create --name reports-api --json
    .venv/bin/gunicorn --chdir examples/drf_project reports_site.wsgi -b 127.0.0.1:8001

Optional: ``TRUSTED_PROXIES`` (comma-separated addresses or networks allowed to name the user in
a ``Remote-User`` header), ``REDIS_URL`` (caches shared by the workers), ``ALLOWED_HOSTS``.
"""

from __future__ import annotations

import os
import secrets

# The API keeps no sessions or forms, so a per-process key is enough unless one is given.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "reports_site.urls"
WSGI_APPLICATION = "reports_site.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}  # tokens are checked by resource_guard, not stored here
USE_TZ = True

RESOURCE_GUARD = "reports_site.auth.guard"
RESOURCE_GUARD_PROTECTED_RESOURCE = "reports_site.auth.protected_resource"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["resource_guard.drf.GuardAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
