"""Which change channel a server uses: Redis pub/sub when ``AUTHSERVER_REDIS_URL`` is set,
else PostgreSQL's LISTEN/NOTIFY on a PostgreSQL database, else none (SQLite is one node)."""

from __future__ import annotations

from ..config import Settings
from . import Channel


def change_channel(settings: Settings) -> Channel | None:
    if settings.redis_url:
        from .redis_pubsub import RedisChannel
        return RedisChannel(settings.redis_url, settings.issuer)
    if settings.database_url.startswith("postgresql"):
        from .pg_notify import PostgresChannel
        return PostgresChannel(settings.database_url)
    return None
