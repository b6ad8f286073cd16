"""What the scenarios need in the database, made in-process through authserver's own code
(the same paths as ``authserver clients create`` and the token endpoint) before the server
starts: clients, a user, API tokens, and pools of real tokens for per-request freshness.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import insert

from authserver import create_app
from authserver.appstate import state
from authserver.clients.metadata import ClientMetadata
from authserver.clients.registry import register_client
from authserver.extensions import db
from authserver.models import Client, Token, User
from authserver.oauth.tokens import GrantContext
from authserver.people.api_tokens import create_api_token
from authserver.people.passwords import hash_password
from tests.databases import free_port

SCOPE = "reports:read"
AUDIENCE = "https://api.bench.example"
REDIRECT_PATH = "/callback"
PASSWORD = "bench-password-0123"


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str


@dataclass
class Fixtures:
    """The authserver app (in this process) on the bench database, and what was registered."""

    app: Flask
    settings: dict[str, Any]
    jwt_client: Credentials
    opaque_client: Credentials
    rs_client: Credentials
    code_client: Credentials
    username: str
    api_token: str

    @property
    def issuer(self) -> str:
        return str(self.settings["issuer"])

    @property
    def resource_env(self) -> dict[str, str]:
        """What every bench resource app reads to check this issuer's tokens for ``AUDIENCE``."""
        return {"BENCH_ISSUER": self.issuer, "BENCH_AUDIENCE": AUDIENCE}

    @property
    def redirect_uri(self) -> str:
        return self.issuer + REDIRECT_PATH

    def mint(self, client: Credentials, count: int, store: bool) -> list[str]:
        """``count`` access tokens for ``client`` by the token service the endpoint uses.

        ``store`` saves their rows (introspection and revocation find them); the bearer JWT
        guard never reads the database, so its pools skip the rows.
        """
        with self.app.app_context():
            service = state(self.app).tokens
            row = db.session.query(Client).filter_by(client_id=client.client_id).one()
            values: list[str] = []
            for start in range(0, count, 5000):
                context = GrantContext(tuple(row.audiences), SCOPE)
                issued = [service.issue(row, context) for _ in range(min(5000, count - start))]
                values.extend(i["access_token"] for i in issued)
                if store:
                    db.session.execute(insert(Token.__table__), [r for i in issued for r in i.rows])
                    db.session.commit()
            return values


def write_pool(values: list[str], path: Path) -> Path:
    path.write_text("\n".join(values) + "\n")
    return path


def prepare(database_url: str, workdir: Path) -> Fixtures:
    """Migrate a fresh database, create the signing key, and register everything."""
    settings: dict[str, Any] = {
        "database_url": database_url,
        "instance_path": str(workdir / "instance"),
        "secret_key": "bench-" + uuid.uuid4().hex,
        "issuer": f"http://127.0.0.1:{free_port()}",
    }
    app = create_app(settings)
    with app.app_context():
        upgrade()
        app_state = state(app)
        app_state.keys.active()
        hasher = app_state.hasher

        def client(name: str, fmt: str | None = None, grant_types: tuple[str, ...] = ("client_credentials",),
                   redirect_uris: tuple[str, ...] = (), resource_servers: tuple[str, ...] = ()) -> Credentials:
            metadata = ClientMetadata(client_name=name, grant_types=grant_types, redirect_uris=redirect_uris,
                                      scope=SCOPE, access_token_format=fmt, audiences=(AUDIENCE,),
                                      resource_servers=resource_servers)
            row, secret = register_client(hasher, metadata)
            assert secret is not None
            return Credentials(row.client_id, secret)

        username = "bench-user"
        user = User(username=username, password_hash=hash_password(PASSWORD))
        db.session.add(user)
        db.session.commit()
        _, api_token = create_api_token(hasher, user, note="bench")
        return Fixtures(
            app=app,
            settings=settings,
            jwt_client=client("bench jwt", "jwt"),
            opaque_client=client("bench opaque", "opaque"),
            rs_client=client("bench resource server", resource_servers=(AUDIENCE,)),
            code_client=client("bench web app", "jwt", grant_types=("authorization_code", "refresh_token"),
                               redirect_uris=(settings["issuer"] + REDIRECT_PATH,)),
            username=username,
            api_token=api_token,
        )
