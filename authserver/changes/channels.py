"""Which change channel a server uses: Redis pub/sub when ``AUTHSERVER_REDIS_URL`` is set,
else PostgreSQL's LISTEN/NOTIFY on a PostgreSQL database, else none (SQLite is one node)."""

from __future__ import annotations

from ..config import REDIS_MISSING, ConfigError, Settings
from . import Channel


def change_channel(settings: Settings) -> Channel | None:
    if settings.redis_url:
        try:
            from .redis_pubsub import RedisChannel
        except ModuleNotFoundError:
            raise ConfigError(REDIS_MISSING) from None
        return RedisChannel(settings.redis_url, settings.issuer)
    if settings.database_url.startswith("postgresql"):
        from .pg_notify import PostgresChannel
        return PostgresChannel(settings.database_url)
    return None
