"""The ``authserver`` command line: a Flask CLI group, so ``flask --app authserver`` works too."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def register_commands(app: Flask) -> None:
    from . import api_tokens, clients, keys, scopes, serve, tokens, users

    for module in (users, clients, scopes, keys, tokens, api_tokens, serve):
        app.cli.add_command(module.group)


def _create_app() -> Flask:
    from .. import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
def main() -> None:
    """Manage and serve the authorization server (configuration: AUTHSERVER_* variables)."""
