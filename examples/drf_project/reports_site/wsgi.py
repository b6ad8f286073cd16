"""WSGI entry point: ``gunicorn --chdir examples/drf_project reports_site.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

from resource_guard.django import get_guard

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reports_site.settings")
application = get_wsgi_application()
get_guard()  # build the guard now: a missing variable stops the worker, not the first request
