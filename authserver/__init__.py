"""authserver: an OAuth 2.0 authorization server built on Flask and Authlib.

``create_app`` is here. The modules beside it are plumbing that every part uses: settings
(``config``), the database and its engine (``extensions``, ``database``), keyed hashes and
encryption (``secrets``), logging (``logs``), the app's shared objects (``appstate``), and
the standalone stores resource_guard plugs in (``stores``). The domain lives in packages:
``clients``, ``people``, ``resources``, ``models`` (the tables), ``oauth`` (grants, tokens,
keys and the endpoints Authlib serves), ``oidc``, and ``net`` (hosts and fetching). The front
ends, ``web`` and ``cli``, import the domain; nothing in it imports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from resource_guard.cache import RedisCache
from resource_guard.ratelimit import RateLimiter

from . import logs
from .appstate import AppState, state
from .audit import sink as audit_sink
from .changes import Changes, Kind, install_session_hooks
from .changes.channels import change_channel
from .config import REDIS_MISSING, ConfigError, Settings, load_settings
from .database import configure, discard_session, engine_options
from .extensions import db, migrate
from .metrics import Metrics
from .models import LoginFailure, RegistrationAttempt
from .models.login_failures import CountedWindow
from .oauth.authorization_code import AuthorizationCodeGrant, S256CodeChallenge
from .oauth.client_assertion import PrivateKeyJWT
from .oauth.client_keys import ClientKeys
from .oauth.grants import ClientCredentialsGrant
from .oauth.introspection import IntrospectionEndpoint
from .oauth.keys import KeyRing
from .oauth.names import AuthMethod
from .oauth.refresh import RefreshTokenGrant
from .oauth.revocation import RevocationEndpoint
from .oauth.server import AuthorizationServer
from .oauth.tokens import TokenService
from .people.throttle import LOGIN, DatabaseLimiter, FailureLimiter
from .schema import migrations_directory
from .secrets import SecretHasher

__all__ = ["AppState", "create_app", "migrations_directory", "state"]


def _login_limiter(settings: Settings, hasher: SecretHasher) -> FailureLimiter:
    """Redis when configured, else the database: either way every worker shares one budget."""
    return _limiter(settings, hasher, settings.login_max_failures, settings.login_failure_window)


def _registration_limiter(settings: Settings, hasher: SecretHasher) -> FailureLimiter:
    """Registrations per client address: the sign-in limiter's kind, with its own keys and table."""
    return _limiter(settings, hasher, settings.registration_rate_limit, settings.registration_rate_window,
                    purpose="registration", model=RegistrationAttempt)


def _limiter(settings: Settings, hasher: SecretHasher, limit: int, period: int, *,
             purpose: str = LOGIN, model: type[CountedWindow] = LoginFailure) -> FailureLimiter:
    if settings.redis_url:
        prefix = "authserver:" if purpose == LOGIN else f"authserver:{purpose}:"
        try:
            cache = RedisCache(settings.redis_url, prefix=prefix)
        except ModuleNotFoundError:
            raise ConfigError(REDIS_MISSING) from None
        return RateLimiter(limit, period, cache=cache)
    return DatabaseLimiter(hasher, limit, period, purpose=purpose, model=model)


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    settings = load_settings(overrides)
    app = Flask(
        __name__, instance_path=settings.instance_path, template_folder="web/templates", static_folder="web/static"
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings.database_url),
        SESSION_COOKIE_NAME="authserver_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.issuer.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.session_ttl),
        MAX_CONTENT_LENGTH=settings.max_form_bytes * 4,
    )
    logs.install(settings.log_level, settings.log_format)
    audit_sink.install(app, settings.audit_log)
    Path(settings.instance_path).mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    app.teardown_appcontext(lambda _exc: discard_session(db.session))
    migrate.init_app(app, db, directory=migrations_directory())
    with app.app_context():
        configure(db.engine, ping_after_idle=settings.db_ping_after_idle)

    hasher = SecretHasher(settings.secret_key)
    changes = Changes(change_channel(settings))
    install_session_hooks(lambda: state().changes)
    keys = KeyRing(
        hasher,
        settings.signing_alg,
        publish_grace=timedelta(seconds=settings.access_token_ttl),
        refresh_interval=settings.key_refresh_interval,
        live=changes.live,
    )
    changes.on(Kind.KEYS, keys.recheck)
    tokens = TokenService(settings, hasher, keys)
    metrics = Metrics()
    server = AuthorizationServer(tokens, metrics, changes)
    server.init_app(app)
    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
    server.register_grant(ClientCredentialsGrant)
    server.register_grant(RefreshTokenGrant)
    server.register_endpoint(IntrospectionEndpoint)
    server.register_endpoint(RevocationEndpoint)
    server.register_client_auth_method(
        AuthMethod.PRIVATE_KEY_JWT,
        PrivateKeyJWT(settings.issuer, settings.client_assertion_max_lifetime, hasher,
                      ClientKeys(settings.cimd_allowed_hosts)),
    )
    AppState(
        settings, hasher, keys, tokens, server, _login_limiter(settings, hasher),
        _registration_limiter(settings, hasher), metrics, changes,
    ).install(app)

    from .web import (
        account,
        authorize,
        client_address,
        cors,
        errors,
        health,
        login,
        logout,
        oauth_routes,
        pages,
        registration,
        request_id,
        userinfo,
    )
    from .web import (
        metrics as metrics_routes,
    )

    client_address.init_app(app, settings.trusted_proxies)
    request_id.init_app(app, settings.log_format)
    metrics_routes.init_app(app, settings.metrics)
    errors.register_error_handlers(app)
    pages.init_app(app)
    cors.init_app(app, settings.cors_allowed_origins)
    app.register_blueprint(oauth_routes.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(authorize.bp)
    app.register_blueprint(login.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(userinfo.bp)
    app.register_blueprint(logout.bp)
    app.register_blueprint(registration.bp)

    from .cli import register_commands

    register_commands(app)
    return app
