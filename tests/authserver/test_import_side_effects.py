"""Importing the server changes nothing global and does no work; settings reach their users."""

from __future__ import annotations

import subprocess
import sys

from flask import Flask

from authserver.appstate import state

PROBE = """
import warnings
import authlib.jose, flask, joserfc.jws, requests, sqlalchemy  # libraries may add filters of their own
before = list(warnings.filters)
import authserver, authserver.people.passwords, authserver.oauth.keys, authserver.stores, authserver.cli
from authserver.appstate import state
app = authserver.create_app({"secret_key": "s", "instance_path": sys.argv[1], "key_refresh_interval": 7})
assert warnings.filters == before, [f for f in warnings.filters if f not in before]
assert authserver.people.passwords._dummy_hash.cache_info().currsize == 0, "an argon2 hash ran at import"
assert state(app).keys._refresh_interval == 7
"""


def test_importing_and_creating_the_app_leaves_warnings_and_hashing_alone(tmp_path) -> None:
    probe = [sys.executable, "-c", "import sys\n" + PROBE, str(tmp_path)]
    result = subprocess.run(probe, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_workers_is_a_setting(app: Flask) -> None:
    assert state(app).settings.workers == 2
