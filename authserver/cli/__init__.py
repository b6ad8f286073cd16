"""The ``authserver`` command line: a Flask CLI group, so ``flask --app authserver`` works too."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup, NoAppException, ScriptInfo, routes_command, shell_command
from sqlalchemy.exc import DBAPIError

from ..config import ConfigError
from .readiness import check_database, database_error, describe, is_missing_sqlite_file

# Commands that run without a migrated database: migrations themselves, and introspection.
NO_DATABASE_CHECK = frozenset({"db", "routes", "shell"})


def register_commands(app: Flask) -> None:
    from . import api_tokens, audit, clients, keys, registration_tokens, resources, scopes, serve, tokens, users

    for module in (users, clients, scopes, keys, tokens, api_tokens, registration_tokens, serve, resources, audit):
        app.cli.add_command(module.group)


def _create_app() -> Flask:
    from .. import create_app

    try:
        return create_app()
    except ConfigError as exc:
        raise NoAppException(f"configuration: {exc}") from None


class AuthserverGroup(FlaskGroup):
    """Flask's CLI group without its development server, ``.env`` and ``--app`` options, and
    with every database or configuration problem told in one line instead of a traceback."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(add_default_commands=False, set_debug_flag=False, load_dotenv=False, **kwargs)
        self.params = [p for p in self.params if p.name not in ("env_file", "app", "debug")]
        self.add_command(routes_command)
        self.add_command(shell_command)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands:
            self._app(ctx)  # a configuration problem is the answer, not "No such command"
        return super().get_command(ctx, name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if name is not None and "--help" not in rest:
            self._check_database(ctx, name)
        return name, command, rest

    def _check_database(self, ctx: click.Context, name: str) -> None:
        app = self._app(ctx)
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        if name == "db":
            if is_missing_sqlite_file(url):
                click.echo(f"authserver: new database {describe(url)}", err=True)
            return
        if name in NO_DATABASE_CHECK:
            return
        from ..extensions import db

        with app.app_context():
            check_database(db.engine)

    @staticmethod
    def _app(ctx: click.Context) -> Flask:
        try:
            return ctx.ensure_object(ScriptInfo).load_app()
        except NoAppException as exc:
            raise click.ClickException(exc.format_message()) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(f"configuration: {exc}") from None
        except DBAPIError as exc:
            url = self._app(ctx).config["SQLALCHEMY_DATABASE_URI"]
            raise click.ClickException(database_error(url, exc)) from None


@click.group(cls=AuthserverGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Manage and serve the authorization server (configuration: AUTHSERVER_* variables)."""
