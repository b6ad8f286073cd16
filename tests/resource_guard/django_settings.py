"""Django settings for the in-process Django/DRF adapter tests, configured once per session
(DRF reads settings when it is imported, so conftest imports this first)."""

from __future__ import annotations

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        SECRET_KEY="resource-guard-tests",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF="tests.resource_guard.django_app",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
        DATABASES={},
        MIDDLEWARE=[],
        USE_TZ=True,
        REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": ["resource_guard.drf.GuardAuthentication"],
                        "DEFAULT_PERMISSION_CLASSES": [], "UNAUTHENTICATED_USER": None},
    )
    django.setup()
