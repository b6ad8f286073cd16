"""The machine and software the figures were measured on, for the results header."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from datetime import UTC, datetime
from importlib import metadata

import psycopg

from .server import ROOT

PACKAGES = ("flask", "werkzeug", "authlib", "joserfc", "sqlalchemy", "flask-sqlalchemy", "gunicorn",
            "psycopg", "pyjwt", "cryptography", "argon2-cffi", "requests")


def _first(path: str, prefix: str) -> str:
    try:
        with open(path) as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith(prefix)), "?")
    except OSError:
        return "?"


def _command(*cmd: str) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=10)
        return (done.stdout or done.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def _dirty() -> str:
    """Other engineers edit the tree while benches run: say when the code was uncommitted."""
    done = subprocess.run(["git", "status", "--porcelain", "--", "authserver", "resource-guard"],
                          capture_output=True, text=True, cwd=ROOT)
    return " + uncommitted changes in authserver/resource_guard" if done.stdout.strip() else ""


def _postgres(admin_url: str) -> str:
    try:
        with psycopg.connect(admin_url, connect_timeout=3) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    except psycopg.Error:
        return "unavailable"


def describe(admin_url: str) -> list[tuple[str, str]]:
    mem_kb = _first("/proc/meminfo", "MemTotal").split()[0]
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in PACKAGES)
    return [
        ("Date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("Commit", _command("git", "rev-parse", "--short", "HEAD") + _dirty()),
        ("CPU", f"{_first('/proc/cpuinfo', 'model name')}, {os.cpu_count()} cores"),
        ("Memory", f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb.isdigit() else "?"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Packages", versions),
        ("Databases", f"SQLite {sqlite3.sqlite_version}, PostgreSQL {_postgres(admin_url)} (same machine)"),
        ("Load generator", _command("wrk", "--version")),
    ]
