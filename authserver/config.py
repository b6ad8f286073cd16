"""Settings: the documented defaults in ``config/defaults.toml``, then the TOML file
named by ``AUTHSERVER_CONFIG``, then ``AUTHSERVER_*`` environment variables.

Nothing is read at import time; ``load_settings`` is called by the app factory and by
the stand-alone stores, so both see the same values.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from importlib.resources import files
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .logs import LogFormat
from .net.hosts import is_loopback
from .oauth.names import AuthMethod, DynamicRegistration, GrantType, SigningAlg, TokenFormat

IPNetwork = IPv4Network | IPv6Network

ENV_PREFIX = "AUTHSERVER_"
E = TypeVar("E", bound=StrEnum)
ZERO_MEANS_OFF = ("client_cache_ttl", "db_ping_after_idle")  # 0: no cache; ping every time
DEFAULT_PORTS = {"http": 80, "https": 443}
# The URL forms hosting guides print, each to the driver installed with authserver (psycopg 3);
# ``postgres://`` is Heroku's and Render's spelling.
DATABASE_DRIVERS = {
    "sqlite": "sqlite", "sqlite+pysqlite": "sqlite",
    "postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg", "postgresql+psycopg": "postgresql+psycopg",
}
DATABASE_FORMS = "sqlite:////path/to/authserver.sqlite3 or postgresql://user:password@host:5432/dbname"


class ConfigError(ValueError):
    """A setting has a value the server cannot run with."""


REDIS_MISSING = ("AUTHSERVER_REDIS_URL is set but the redis package is not installed: "
                 "pip install 'authserver[redis]' (or 'resource-guard[redis]'), or unset it")


@dataclass(frozen=True)
class Settings:
    """Every setting, parsed once by ``load_settings`` into the type its users want: a list
    setting is a frozenset, a choice its enum, a switch a bool. Nobody splits a string later."""

    database_url: str
    issuer: str
    host: str
    port: int
    workers: int
    secret_key: str
    instance_path: str
    access_token_format: TokenFormat
    signing_alg: SigningAlg
    access_token_ttl: int
    refresh_token_ttl: int
    refresh_family_ttl: int
    authorization_code_ttl: int
    session_ttl: int
    login_max_failures: int
    login_failure_window: int
    redis_url: str
    client_cache_ttl: int
    db_ping_after_idle: int
    key_refresh_interval: int
    max_form_bytes: int
    log_level: str
    log_format: LogFormat
    metrics: bool
    metrics_allow: frozenset[IPNetwork]
    trusted_proxies: frozenset[IPNetwork]
    audit_log: str | None
    cors_allowed_origins: frozenset[str]
    client_id_metadata_documents: bool
    cimd_allowed_hosts: frozenset[str]
    dynamic_registration: DynamicRegistration
    registration_rate_limit: int
    registration_rate_window: int
    registration_grant_types: frozenset[GrantType]
    registration_auth_methods: frozenset[AuthMethod]
    registration_scopes: frozenset[str]
    client_assertion_max_lifetime: int
    durable_access_tokens: bool

    def __post_init__(self) -> None:
        if not self.issuer.startswith(("https://", "http://")) or "?" in self.issuer or "#" in self.issuer:
            raise ConfigError("issuer must be an http(s) URL without query or fragment (RFC 8414 §2)")
        if self.issuer.startswith("http://") and not is_loopback(urlsplit(self.issuer).hostname):
            raise ConfigError(
                f"issuer {self.issuer} is plain http on a host other than loopback, and OAuth needs TLS there "
                "(RFC 9700 §2.6): set AUTHSERVER_ISSUER to the https URL clients use (TLS at a proxy in front "
                "is fine), or serve on 127.0.0.1"
            )
        if not 1 <= self.port <= 65535:
            raise ConfigError("port must be between 1 and 65535")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (value < 0 or (value == 0 and f.name not in ZERO_MEANS_OFF)):
                raise ConfigError(f"{f.name} must be a positive number")


def _items(name: str, value: Any) -> list[str]:
    """A list setting, spelled alike everywhere: a TOML array of strings, or one string
    with spaces or commas between the items (an environment variable's only form)."""
    if isinstance(value, str):
        return value.replace(",", " ").split()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ConfigError(f'{name} must be a list of strings, or one string with spaces between them: "a b"')


def _choice(kind: type[E]) -> Callable[[str, Any], E]:
    def parse(name: str, value: Any) -> E:
        if value not in tuple(kind):
            raise ConfigError(f"{name} must be one of {', '.join(kind)}, got {value!r}")
        return kind(value)
    return parse


def _choices(kind: type[E]) -> Callable[[str, Any], frozenset[E]]:
    def parse(name: str, value: Any) -> frozenset[E]:
        items = _items(name, value)
        unknown = set(items) - set(kind)
        if unknown:
            raise ConfigError(f"{name}: {', '.join(sorted(unknown))} unknown; choose among {', '.join(kind)}")
        return frozenset(kind(item) for item in items)
    return parse


def parse_origins(value: Iterable[str]) -> frozenset[str]:
    """The origins of ``cors_allowed_origins``, spelled as a browser sends ``Origin``
    (RFC 6454 §6.2: lower-case scheme and host, no default port), so a lookup is exact.

    ``*`` is refused: which sites may redeem codes and refresh tokens from a browser is the
    operator's decision, named site by site (as ORY Hydra advises for production)."""
    origins = set()
    for item in value:
        origins.add(_origin(item))
    return frozenset(origins)


def _origin(item: str) -> str:
    problem = f"cors_allowed_origins: {item!r} is not an origin; write scheme://host[:port], e.g. http://127.0.0.1:8002"
    if item == "*":
        raise ConfigError("cors_allowed_origins: '*' is not allowed; list each origin, e.g. https://app.example")
    parts = urlsplit(item)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(problem + " (the port is not a number from 0 to 65535)") from None
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        raise ConfigError(problem)
    if parts.path or parts.query or parts.fragment or item.endswith(("?", "#")):
        raise ConfigError(problem + " (no path, not even /, no query or fragment)")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(problem + " (no user name or password)")
    scheme, host = parts.scheme.lower(), parts.hostname  # hostname is lower-cased
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" if port in (None, DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def parse_networks(name: str, items: Iterable[str]) -> frozenset[IPNetwork]:
    """CIDRs (``10.0.0.0/8``) or single addresses (``10.1.2.3``)."""
    try:
        return frozenset(ip_network(item, strict=False) for item in items)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}; write addresses or CIDRs, e.g. 127.0.0.1/8 ::1 10.0.0.0/8") from None


def _defaults() -> dict[str, Any]:
    return tomllib.loads(files("authserver.defaults").joinpath("defaults.toml").read_text())


def parse_audit_log(name: str, value: Any) -> str | None:
    """``db`` (the table only), ``db+stderr`` or ``db+FILE``: where the JSON-lines copy of
    the audit trail goes, or None."""
    text = str(value).strip()
    if text == "db":
        return None
    target = text.removeprefix("db+")
    if target == text or not target:
        raise ConfigError(f"{name} must be db, db+stderr or db+FILE, got {value!r}")
    if target != "stderr" and not Path(target).parent.is_dir():
        raise ConfigError(f"{name}: the folder of {target!r} does not exist; create it or name another file")
    return target if target == "stderr" else str(Path(target).resolve())


BOOLEAN_WORDS = {**dict.fromkeys(("true", "1", "yes", "on"), True), **dict.fromkeys(("false", "0", "no", "off"), False)}


def _boolean(name: str, value: Any) -> bool:
    """A TOML boolean, or the words an environment variable spells one with."""
    if isinstance(value, bool):
        return value
    word = BOOLEAN_WORDS.get(str(value).strip().lower())
    if word is None:
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return word


PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "access_token_format": _choice(TokenFormat),
    "signing_alg": _choice(SigningAlg),
    "log_format": _choice(LogFormat),
    "dynamic_registration": _choice(DynamicRegistration),
    "client_id_metadata_documents": _boolean,  # "off" / "on" in the contract
    "cors_allowed_origins": lambda name, value: parse_origins(_items(name, value)),
    "cimd_allowed_hosts": lambda name, value: frozenset(host.lower() for host in _items(name, value)),
    "registration_grant_types": _choices(GrantType),
    "registration_auth_methods": _choices(AuthMethod),
    "registration_scopes": lambda name, value: frozenset(_items(name, value)),
    "metrics_allow": lambda name, value: parse_networks(name, _items(name, value)),
    "trusted_proxies": lambda name, value: parse_networks(name, _items(name, value)),
    "audit_log": parse_audit_log,
}


def _coerce(name: str, value: Any, default: Any) -> Any:
    if name in PARSERS:
        return PARSERS[name](name, value)
    if isinstance(default, bool):  # before int: a bool is an int to Python
        return _boolean(name, value)
    if isinstance(default, int) and not isinstance(value, int):
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    return value


def default_instance_path(environ: Mapping[str, str]) -> Path:
    """The per-user data folder (XDG Base Directory), the same from every directory."""
    data_home = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "authserver"


def default_issuer(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    create_secret: bool = True,
) -> Settings:
    """Merge defaults < TOML file < environment < explicit overrides (tests).

    ``create_secret=False`` is for processes that only read what the server wrote (the
    stores): a secret of their own would make every stored hash unreachable.
    """
    environ = os.environ if environ is None else environ
    defaults = _defaults()
    values = dict(defaults)
    path = environ.get(ENV_PREFIX + "CONFIG")
    if path:
        try:
            values.update(tomllib.loads(Path(path).read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
    for key in defaults:
        env_value = environ.get(ENV_PREFIX + key.upper())
        if env_value is not None:
            values[key] = env_value
    values.update({k.lower(): v for k, v in (overrides or {}).items()})
    unknown = set(values) - set(defaults)
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    values = {k: _coerce(k, v, defaults[k]) for k, v in values.items()}
    values["issuer"] = (values["issuer"] or default_issuer(values["host"], values["port"])).rstrip("/")
    instance = Path(values["instance_path"] or default_instance_path(environ)).expanduser().resolve()
    if not values["instance_path"]:
        _refuse_to_abandon_earlier_data(instance, database=not values["database_url"],
                                        secret=not values["secret_key"])
    values["instance_path"] = str(instance)
    if not values["database_url"]:
        values["database_url"] = f"sqlite:///{instance / 'authserver.sqlite3'}"
    values["database_url"] = database_url(values["database_url"])
    if not values["secret_key"]:
        values["secret_key"] = _instance_secret(instance, create_secret)
    return Settings(**values)


def database_url(value: Any) -> str:
    """The URL with its driver named (psycopg 3 for every PostgreSQL spelling), or one line
    that names the variable and the forms accepted: never a driver's import traceback."""
    where = f"AUTHSERVER_DATABASE_URL {_mask_password(str(value))!r}"
    try:
        url = make_url(str(value).strip())
    except ArgumentError:
        raise ConfigError(f"{where} is not a URL; use {DATABASE_FORMS}") from None
    driver = DATABASE_DRIVERS.get(url.drivername)
    if driver is None:
        raise ConfigError(f"{where}: {url.drivername} is not supported; use {DATABASE_FORMS}")
    return url.set(drivername=driver).render_as_string(hide_password=False)


def _mask_password(text: str) -> str:
    """``scheme://user:secret@host`` with the secret starred, also in a URL that does not parse."""
    return re.sub(r":[^:/@]*@", ":***@", text)


def _refuse_to_abandon_earlier_data(instance: Path, *, database: bool, secret: bool) -> None:
    """Earlier versions kept the database and secret in ``./instance`` (where ``make run``
    ran); starting on the per-user default instead would silently begin a new, empty server
    and orphan every client, user and token. Until told which folder to use, refuse."""
    earlier = Path.cwd().resolve() / "instance"
    if earlier == instance:
        return
    wanted = ["authserver.sqlite3"] * database + ["secret_key"] * secret
    left = [name for name in wanted if (earlier / name).exists() and not (instance / name).exists()]
    if left:
        raise ConfigError(
            f"{earlier / left[0]} is from an earlier version, which kept its data in ./instance; "
            f"the default instance folder is now {instance}: set AUTHSERVER_INSTANCE_PATH={earlier} "
            f"to keep using it, or move it to {instance}"
        )


def _instance_secret(instance: Path, create: bool) -> str:
    """Generate the secret once, readable only by its owner, and reuse it after."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    if not create:
        raise ConfigError(
            f"no secret key: set AUTHSERVER_SECRET_KEY to the authorization server's secret "
            f"(or AUTHSERVER_INSTANCE_PATH to its instance folder; {path} does not exist)"
        )
    instance.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker won the race; use its secret
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    print(f"authserver: generated a new secret key in {path}", file=sys.stderr)
    return value
