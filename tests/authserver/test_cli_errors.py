"""The command line as a newcomer meets it: one line that says what to do, never a traceback.

These run the real ``authserver`` entry point in a subprocess, as a person would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.databases import PG_ADMIN, free_port, new_database

COMMANDS = [["users", "list"], ["clients", "list"], ["keys", "list"], ["tokens", "purge"], ["api-tokens", "list", "x"]]


def run(env: dict[str, str], *args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "authserver.cli", *args],
        env=env, cwd=cwd, input=stdin, capture_output=True, text=True,
        stdin=None if stdin is not None else subprocess.DEVNULL, timeout=60,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
    return {**clean, "AUTHSERVER_INSTANCE_PATH": str(tmp_path / "instance")}


def one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("authserver: generated")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_sqlite_database_names_the_fix_and_is_not_created(env, tmp_path: Path, command: list[str]) -> None:
    result = run(env, *command, cwd=tmp_path)
    database = tmp_path / "instance" / "authserver.sqlite3"
    one_line_error(result, f"no database at {database}", "authserver db upgrade")
    assert not database.exists()


@pytest.mark.slow
def test_an_earlier_versions_database_in_dot_instance_is_named_not_replaced(env, tmp_path: Path) -> None:
    """Before the default moved to the per-user folder, ``make run`` kept its data in
    ./instance: the commands say so in one line and start no new, empty server."""
    del env["AUTHSERVER_INSTANCE_PATH"]
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    earlier = tmp_path / "instance" / "authserver.sqlite3"
    earlier.parent.mkdir()
    earlier.write_bytes(b"")
    for command in (["db", "upgrade"], ["serve", "--port", str(free_port())], ["users", "list"]):
        one_line_error(run(env, *command, cwd=tmp_path), str(earlier),
                       f"set AUTHSERVER_INSTANCE_PATH={tmp_path / 'instance'} to keep using it",
                       f"or move it to {tmp_path / 'data' / 'authserver'}")
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_an_unmigrated_database_names_the_fix(env, tmp_path: Path) -> None:
    env["AUTHSERVER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    (tmp_path / "empty.sqlite3").touch()
    for command in (*COMMANDS, ["serve", "--port", str(free_port())]):
        one_line_error(run(env, *command, cwd=tmp_path), "has no schema yet", "authserver db upgrade")


def test_a_database_behind_the_code_names_the_fix(env, tmp_path: Path) -> None:
    env["AUTHSERVER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    assert run(env, "db", "upgrade", "0001", cwd=tmp_path).returncode == 0
    one_line_error(run(env, "users", "list", cwd=tmp_path), "is at migration 0001", "authserver db upgrade")


@pytest.mark.skipif("postgresql" not in os.environ.get("AUTHSERVER_TEST_DATABASES", "sqlite,postgresql"),
                    reason="PostgreSQL not selected")
def test_an_unreachable_or_missing_postgresql_database_is_one_line(env, tmp_path: Path) -> None:
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    closed = f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{free_port()}/authserver"
    for url, fragment in ((closed, "Connection refused"), (f"{base}/no_such_db_{free_port()}", "does not exist")):
        env["AUTHSERVER_DATABASE_URL"] = url
        for command in (["users", "list"], ["db", "upgrade"], ["serve", "--port", str(free_port())]):
            result = run(env, *command, cwd=tmp_path)
            one_line_error(result, "cannot connect to the database", fragment)
            assert "hunter2" not in result.stderr
    with new_database("postgresql", tmp_path) as url:
        env["AUTHSERVER_DATABASE_URL"] = url
        one_line_error(run(env, "clients", "list", cwd=tmp_path), "has no schema yet", "authserver db upgrade")


@pytest.mark.parametrize("url", ["not a url", "mysql://app:hunter2@db.example/app", "postgresql+psycopg2://app:hunter2@db/app"])
def test_an_unsupported_or_malformed_database_url_is_one_line_with_the_forms(env, tmp_path: Path, url: str) -> None:
    """What a hosting guide's copy-paste gone wrong gets: the variable, the forms accepted, no password."""
    env["AUTHSERVER_DATABASE_URL"] = url
    for command in (["serve", "--port", str(free_port())], ["db", "upgrade"], ["users", "list"], ["tokens", "purge"]):
        result = run(env, *command, cwd=tmp_path)
        one_line_error(result, "AUTHSERVER_DATABASE_URL", "postgresql://user:password@host:5432/dbname")
        assert "hunter2" not in result.stderr


@pytest.mark.skipif("postgresql" not in os.environ.get("AUTHSERVER_TEST_DATABASES", "sqlite,postgresql"),
                    reason="PostgreSQL not selected")
@pytest.mark.parametrize("scheme", ["postgresql://", "postgres://"])
def test_the_postgresql_url_every_hosting_guide_prints_uses_psycopg_3(env, tmp_path: Path, scheme: str) -> None:
    """``postgres://`` (Heroku, Render) and ``postgresql://`` reach the installed driver and migrate."""
    with new_database("postgresql", tmp_path) as url:
        env["AUTHSERVER_DATABASE_URL"] = scheme + url.split("://", 1)[1]
        upgraded = run(env, "db", "upgrade", cwd=tmp_path)
        assert upgraded.returncode == 0, upgraded.stderr
        listed = run(env, "users", "list", cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr


def test_data_lives_in_the_instance_folder_whatever_the_directory(env, tmp_path: Path) -> None:
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    upgraded = run(env, "db", "upgrade", cwd=elsewhere)
    database = tmp_path / "instance" / "authserver.sqlite3"
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"authserver: new database {database}\n" in upgraded.stderr
    assert run(env, "users", "list", cwd=tmp_path).returncode == 0
    assert list(elsewhere.iterdir()) == []
    again = run(env, "db", "upgrade", cwd=tmp_path)
    assert "new database" not in again.stderr and "generated a new secret" not in again.stderr


def test_redis_url_without_the_redis_package_names_the_extra(env, tmp_path: Path) -> None:
    blocker = tmp_path / "no_redis"
    blocker.mkdir()
    (blocker / "redis.py").write_text("raise ModuleNotFoundError(\"No module named 'redis'\", name='redis')\n")
    env.update(AUTHSERVER_REDIS_URL="redis://127.0.0.1:6379/0", PYTHONPATH=f"{blocker}{os.pathsep}{ROOT}")
    for command in (["db", "upgrade"], ["users", "list"]):
        one_line_error(run(env, *command, cwd=tmp_path), "AUTHSERVER_REDIS_URL", "pip install 'authserver[redis]'")


def test_a_bad_setting_is_one_line(env, tmp_path: Path) -> None:
    env["AUTHSERVER_ACCESS_TOKEN_FORMAT"] = "paseto"
    for command in (["users", "list"], ["db", "upgrade"]):
        one_line_error(run(env, *command, cwd=tmp_path), "access_token_format")


def test_users_create_without_a_terminal_points_at_password_stdin(env, tmp_path: Path) -> None:
    assert run(env, "db", "upgrade", cwd=tmp_path).returncode == 0
    one_line_error(run(env, "users", "create", "alice", cwd=tmp_path), "--password-stdin")
    created = run(env, "users", "create", "alice", "--password-stdin", cwd=tmp_path, stdin="a long password\n")
    assert created.returncode == 0, created.stderr


@pytest.mark.slow
def test_help_lists_only_this_servers_commands_in_full_sentences(env, tmp_path: Path) -> None:
    top = run(env, "--help", cwd=tmp_path)
    assert top.returncode == 0
    assert " run " not in top.stdout and "dotenv" not in top.stdout and "--env-file" not in top.stdout
    assert "serve" in top.stdout and "clients" in top.stdout
    for group in ("clients", "keys", "tokens", "users", "api-tokens"):
        listing = run(env, group, "--help", cwd=tmp_path).stdout
        commands = listing.split("Commands:", 1)[1]
        assert "..." not in commands, listing


def test_a_short_password_is_refused_before_the_confirmation_prompt(env, tmp_path: Path) -> None:
    """At a real terminal (a pseudo-terminal here): short, refused at once, asked again."""
    import pty
    import select

    assert run(env, "db", "upgrade", cwd=tmp_path).returncode == 0
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "authserver.cli", "users", "create", "alice"],
        env=env, cwd=tmp_path, stdin=follower, stdout=follower, stderr=follower, close_fds=True,
    )
    os.close(follower)
    screen = b""

    def until(text: bytes, times: int = 1) -> None:
        nonlocal screen
        deadline = time.monotonic() + 30
        while screen.count(text) < times:
            assert time.monotonic() < deadline, screen
            if select.select([leader], [], [], 1)[0]:
                screen += os.read(leader, 1024)

    try:
        until(b"Password:")
        os.write(leader, b"short\n")
        until(b"at least 8 characters")
        assert b"Repeat" not in screen
        until(b"Password:", 2)
        os.write(leader, b"a long password\n")
        until(b"Repeat for confirmation:")
        os.write(leader, b"a long password\n")
        assert process.wait(timeout=30) == 0
        until(b"alice")
    finally:
        process.kill()
        os.close(leader)
