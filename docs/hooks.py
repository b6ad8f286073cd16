"""MkDocs hooks: the reference pages that have a source of truth are generated from it.

A page asks for a part with a marker line, ``<!-- generated: NAME -->``, replaced at build:
``settings`` (``config/defaults.toml``: every key, its default and the comment above it),
``cli`` (the click commands ``authserver`` registers), ``routes`` (the app's URL map, each
view's docstring summary) and ``metadata`` (the RFC 8414 document a default server serves).
A marker nobody generates fails the build.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import click
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!-- generated: ([a-z]+) -->$", re.MULTILINE)
KEY = re.compile(r"^([a-z_]+) = (.*)$")


def on_page_markdown(markdown: str, **_: Any) -> str:
    def expand(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PARTS:
            raise ValueError(f"no generated part is called {name!r}; there are {', '.join(PARTS)}")
        return PARTS[name]()
    return MARKER.sub(expand, markdown)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _setting_blocks() -> Iterator[tuple[list[str], list[tuple[str, str]]]]:
    """``defaults.toml`` as (comment lines, [(key, default)]): keys written under one comment
    share it. The file's opening comment (before the first blank line) is the page's, not a key's."""
    comment: list[str] = []
    keys: list[tuple[str, str]] = []
    body = (ROOT / "config" / "defaults.toml").read_text().split("\n\n", 1)[1]
    for line in body.splitlines():
        match = KEY.match(line)
        if match:
            keys.append((match.group(1), match.group(2)))
            continue
        if keys:
            yield comment, keys
            comment, keys = [], []
        if line.startswith("#"):
            comment.append(line.lstrip("# ").rstrip() if not line.startswith("#   ") else line[1:].rstrip())
    if keys:
        yield comment, keys


def settings() -> str:
    rows = ["| setting | default | meaning |", "| --- | --- | --- |"]
    for comment, keys in _setting_blocks():
        names = "<br>".join(f"`AUTHSERVER_{key.upper()}`<br>(`{key}`)" for key, _ in keys)
        defaults = "<br>".join(f"`{value}`" if value != '""' else "empty" for _, value in keys)
        rows.append(f"| {names} | {_cell(defaults)} | {_cell(' '.join(comment))} |")
    return "\n".join(rows)


@cache
def _app() -> Flask:
    """A default server on a throwaway SQLite database (dynamic registration on, so its
    routes are in the map too; the issuer as ``make run`` has it)."""
    from authserver import create_app
    from authserver.extensions import db

    folder = tempfile.mkdtemp(prefix="authserver-docs-")
    app = create_app({"instance_path": folder, "secret_key": "docs", "dynamic_registration": "open",
                      "issuer": "http://127.0.0.1:5000"})
    with app.app_context():
        db.create_all()
    return app


def _summary(function: Callable[..., Any]) -> str:
    """The docstring's first paragraph, its reST literals as Markdown ones."""
    first = (function.__doc__ or "").strip().split("\n\n", 1)[0]
    if not first:
        raise ValueError(f"the view {function.__qualname__} has no docstring to say what it does")
    return " ".join(first.split()).replace("``", "`")


def routes() -> str:
    app = _app()
    rows = ["| method | path | what |", "| --- | --- | --- |"]
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, sorted(r.methods or ()))):
        if rule.endpoint == "static":
            continue
        methods = ", ".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
        rows.append(f"| {methods} | `{rule.rule}` | {_cell(_summary(app.view_functions[rule.endpoint]))} |")
    return "\n".join(rows)


def metadata() -> str:
    app = _app()
    document = app.test_client().get("/.well-known/oauth-authorization-server").get_json()
    return "```json\n" + json.dumps(document, indent=2) + "\n```"


def _usage(command: click.Command, path: str) -> str:
    pieces = " ".join(command.collect_usage_pieces(click.Context(command, info_name=path)))
    return f"```\n{path} {pieces}\n```"


def _choices(param: click.Option) -> str:
    return f"One of {', '.join(f'`{c}`' for c in param.type.choices)}." if isinstance(param.type, click.Choice) else ""


def _default(param: click.Option) -> str:
    """Only a default worth saying: a value, not a flag's off or click's unset marker."""
    value = param.default
    if param.is_flag and param.secondary_opts:
        return f"Default: `{param.opts[0] if value else param.secondary_opts[0]}`."
    if isinstance(value, (list, tuple)) and value:
        return f"Default: {', '.join(f'`{v}`' for v in value)}."
    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != "":
        return f"Default: `{value}`."
    return ""


def _options(command: click.Command) -> str:
    rows = []
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        if not param.help:
            raise ValueError(f"{command.name} {param.opts[0]} has no help text to document it with")
        names = ", ".join(f"`{name}`" for name in [*param.opts, *param.secondary_opts])
        rows.append(f"| {names} | {_cell(' '.join(filter(None, [param.help, _choices(param), _default(param)])))} |")
    return "\n".join(["| option | meaning |", "| --- | --- |", *rows]) if rows else ""


def _command(command: click.Command, path: str, depth: int) -> Iterator[str]:
    if not command.help:
        raise ValueError(f"{path} has no help text to document it with")
    yield f"{'#' * depth} `{path}`"
    yield (command.help or "").strip()
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from _command(command.commands[name], f"{path} {name}", depth + 1)
        return
    yield _usage(command, path)
    yield _options(command)


def cli() -> str:
    commands = _app().cli.commands
    parts = [part for name in sorted(commands) for part in _command(commands[name], f"authserver {name}", 2)]
    return "\n\n".join(part for part in parts if part)


PARTS: dict[str, Callable[[], str]] = {"settings": settings, "cli": cli, "routes": routes, "metadata": metadata}
