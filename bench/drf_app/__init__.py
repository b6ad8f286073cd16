"""The Django REST framework resource app for the bench: the resource app's tiny JSON endpoint as
an unguarded ``APIView`` and as one behind ``GuardAuthentication`` + ``TokenHasScope`` (one Bearer
JWT backend), served by gunicorn with the Flask rows' settings (``bench.drf_app.wsgi``)."""
