"""``gunicorn bench.drf_app.wsgi:application``, as examples/drf_project is served."""

import os

from django.core.wsgi import get_wsgi_application

from resource_guard.django import get_guard

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.drf_app.settings")
application = get_wsgi_application()
get_guard()  # build the guard now: a missing variable stops the worker, not the first request
