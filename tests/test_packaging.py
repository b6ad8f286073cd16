"""The built wheel carries what an installed server needs: migrations, defaults, pages."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        check=True, capture_output=True,
    )
    return next(out.glob("authserver-*.whl"))


def test_wheel_contains_migrations_defaults_and_typing_markers(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "authserver/migrations/env.py" in names
    assert "authserver/migrations/alembic.ini" in names
    versions = {f"authserver/migrations/versions/{p.name}" for p in (ROOT / "migrations" / "versions").glob("0*.py")}
    assert len(versions) >= 2 and versions <= names
    assert "authserver/defaults/defaults.toml" in names
    assert {"authserver/py.typed", "resource_guard/py.typed"} <= names


def test_installed_package_migrates_a_fresh_database(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site), "AUTHSERVER_INSTANCE_PATH": str(tmp_path / "instance")}
    where = subprocess.run([sys.executable, "-c", "import authserver; print(authserver.__file__)"],
                           env=env, capture_output=True, text=True, cwd=tmp_path, check=True)
    assert where.stdout.startswith(str(site))
    result = subprocess.run([sys.executable, "-m", "authserver.cli", "db", "upgrade"],
                            env=env, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Running upgrade" in result.stderr
    assert (tmp_path / "instance" / "authserver.sqlite3").exists()
