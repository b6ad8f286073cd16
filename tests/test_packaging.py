"""Two distributions from one checkout: ``authserver`` (the server, with everything it needs)
and ``resource-guard`` (the validator a resource server installs alone).

Both are built as a packager builds them (``python -m build``: an sdist, then the wheel from
that sdist) and are publishable as they are. The wheels carry what an installed server needs
(migrations, defaults, pages); the installs are real ones, into fresh virtual environments.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds and installs into fresh virtual environments

ROOT = Path(__file__).resolve().parent.parent
RESOURCE_GUARD = ROOT / "resource-guard"
# Each adapter of resource_guard and the extra it needs; those not written yet are skipped.
ADAPTERS = {
    "flask": ["resource_guard.flask"],
    "django": ["resource_guard.django", "resource_guard.drf"],
    "asgi": ["resource_guard.starlette", "resource_guard.aio"],
    "fastapi": ["resource_guard.fastapi"],
    "mcp": ["resource_guard.mcp"],
}
SERVER_ONLY = ["flask", "authlib", "sqlalchemy", "flask_sqlalchemy", "psycopg", "gunicorn", "granian", "argon2",
               "authserver"]


def copy_of(project: Path, into: Path) -> Path:
    """The checkout's files without what a build or a run leaves: setuptools writes its sdist
    tree and build/ inside the project, so two test workers building one checkout at once
    would remove each other's files."""
    ignored = shutil.ignore_patterns(".git", ".venv", "site", "build", "dist", "*.egg-info", "__pycache__",
                                     ".pytest_cache", "node_modules", ".mypy_cache", ".ruff_cache")
    return Path(shutil.copytree(project, into / project.name, ignore=ignored))


def build(project: Path, out: Path) -> Path:
    """``python -m build``: the sdist, and the wheel built from it (so a file the sdist
    forgets is missing from the wheel too); the wheel is returned."""
    project = copy_of(project, out / "source")
    out = out / "dist"
    result = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "-o", str(out), str(project)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert len(list(out.glob("*.tar.gz"))) == 1
    return next(out.glob("*.whl"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(ROOT, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def guard_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(RESOURCE_GUARD, tmp_path_factory.mktemp("guard-dist"))


def requirements(wheel: Path) -> list[str]:
    archive = zipfile.ZipFile(wheel)
    metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    return [line.removeprefix("Requires-Dist: ") for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist: ")]


def venv(path: Path) -> tuple[Path, Path]:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path / "bin" / "pip", path / "bin" / "python"


def pip_install(pip: Path, *args: str) -> None:
    result = subprocess.run([str(pip), "install", "-qq", "--disable-pip-version-check", *args],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def importable(python: Path, module: str) -> bool:
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([str(python), "-c", probe], cwd=python.parent).returncode == 0  # not the checkout


def test_wheel_contains_migrations_defaults_and_typing_markers(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "authserver/migrations/env.py" in names
    assert "authserver/migrations/alembic.ini" in names
    versions = {f"authserver/migrations/versions/{p.name}" for p in (ROOT / "migrations" / "versions").glob("0*.py")}
    assert len(versions) >= 2 and versions <= names
    assert "authserver/defaults/defaults.toml" in names
    assert {"authserver/web/templates/home.html", "authserver/web/static/style.css", "authserver/py.typed"} <= names
    assert not any(n.startswith("resource_guard/") for n in names)  # its own distribution


def test_both_wheels_are_publishable_with_plain_version_requirements(wheel: Path, guard_wheel: Path) -> None:
    """No path or URL of this machine in either wheel's metadata: an index would refuse it,
    and nobody else could install it. The server's range admits the checkout's resource-guard."""
    from packaging.requirements import Requirement

    server, guard = requirements(wheel), requirements(guard_wheel)
    assert not [r for r in server + guard if "@" in r or "file:" in r or str(ROOT) in r]
    (pinned,) = [Requirement(r) for r in server if r.startswith("resource-guard")]
    version = tomllib.loads((RESOURCE_GUARD / "pyproject.toml").read_text())["project"]["version"]
    assert pinned.specifier and pinned.specifier.contains(version)
    assert guard_wheel.name.startswith(f"resource_guard-{version}-") and wheel.name.startswith("authserver-")


def test_resource_guard_wheel_carries_the_package_alone(guard_wheel: Path) -> None:
    names = set(zipfile.ZipFile(guard_wheel).namelist())
    assert {"resource_guard/__init__.py", "resource_guard/backends/bearer_jwt.py", "resource_guard/py.typed"} <= names
    assert not any(n.startswith("authserver/") for n in names)


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


def test_resource_guard_installs_alone_and_each_adapter_with_its_extra(tmp_path: Path) -> None:
    pip, python = venv(tmp_path / "venv")
    guard = copy_of(RESOURCE_GUARD, tmp_path)
    pip_install(pip, str(guard))
    core = subprocess.run([str(python), "-c", "import resource_guard, resource_guard.backends, resource_guard.cache"],
                          capture_output=True, text=True, cwd=python.parent)
    assert core.returncode == 0, core.stderr
    assert [m for m in SERVER_ONLY if importable(python, m)] == []
    modules = {extra: [m for m in mods if (RESOURCE_GUARD / (m.replace(".", "/") + ".py")).exists()]
               for extra, mods in ADAPTERS.items()}
    written = [extra for extra, mods in modules.items() if mods]
    assert "flask" in written
    pip_install(pip, f"{guard}[{','.join([*written, 'redis'])}]")
    imports = ", ".join([m for mods in modules.values() for m in mods] + ["redis"])
    adapters = subprocess.run([str(python), "-c", f"import {imports}"], capture_output=True, text=True,
                              cwd=python.parent)
    assert adapters.returncode == 0, adapters.stderr
    assert not importable(python, "authserver") and not importable(python, "sqlalchemy")


@pytest.mark.parametrize("source", ["checkout", "wheels"])
def test_installing_gives_the_server_with_resource_guard(tmp_path: Path, source: str, request: pytest.FixtureRequest,
                                                         ) -> None:
    """``pip install ./resource-guard .`` as a contributor types it, and the two built wheels
    as a user gets them from an index."""
    pip, python = venv(tmp_path / "venv")
    if source == "checkout":
        sources = tmp_path / "checkout"
        pip_install(pip, str(copy_of(RESOURCE_GUARD, sources)), str(copy_of(ROOT, sources)))
    else:
        pip_install(pip, str(request.getfixturevalue("guard_wheel")), str(request.getfixturevalue("wheel")))
    site = subprocess.run([str(python), "-c", "import authserver, resource_guard; print(resource_guard.__file__)"],
                          capture_output=True, text=True, cwd=python.parent)
    assert site.returncode == 0 and str(tmp_path / "venv") in site.stdout, site.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
    upgraded = subprocess.run([str(tmp_path / "venv" / "bin" / "authserver"), "db", "upgrade"], capture_output=True,
                              text=True, cwd=tmp_path, env={**env, "AUTHSERVER_INSTANCE_PATH": str(tmp_path / "i")})
    assert upgraded.returncode == 0, upgraded.stderr


@pytest.mark.parametrize("project", [ROOT, RESOURCE_GUARD], ids=["authserver", "resource-guard"])
def test_an_editable_install_prints_no_warning(tmp_path: Path, project: Path) -> None:
    """``pip install -e .`` as a contributor types it: no boxed setuptools notice to wonder about."""
    pip, _ = venv(tmp_path / "venv")
    pip_install(pip, "--upgrade", "pip")  # as make setup does: a current pip shows a backend's warnings
    result = subprocess.run([str(pip), "install", "--disable-pip-version-check", "--no-deps", "-e",
                             str(copy_of(project, tmp_path))],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "warning" not in output.lower(), output


def test_the_development_install_sees_resource_guard_edits() -> None:
    """``make setup`` installs both editable: the checkout's source is what runs."""
    import authserver
    import resource_guard

    assert Path(resource_guard.__file__).resolve().is_relative_to(RESOURCE_GUARD)
    assert Path(authserver.__file__).resolve().is_relative_to(ROOT / "authserver")
