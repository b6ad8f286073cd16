"""A Django REST framework API protected by resource_guard (see ``settings.py`` to run it)."""
