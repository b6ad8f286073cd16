"""The change channel on Redis pub/sub, when ``AUTHSERVER_REDIS_URL`` is set.

A message is published just after the changing transaction commits, to every subscriber
connected then (pub/sub keeps nothing for one that is not). The subscribing connection is
health-checked every ``PING_EVERY`` seconds, so a vanished Redis is an error within seconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import redis
from sqlalchemy.orm import Session

log = logging.getLogger("authserver.changes")

CHANNEL = "authserver:changes:"  # and the issuer: deployments that share a Redis do not hear each other
PING_EVERY = 2.0
CLIENT_NAME = "authserver-changes"  # in CLIENT LIST


class RedisChannel:
    name = "Redis pub/sub"

    def __init__(self, url: str, issuer: str) -> None:
        self._url = url
        self._channel = CHANNEL + issuer
        self._publisher = self._client()

    def _client(self) -> redis.Redis:
        return redis.Redis.from_url(self._url, socket_connect_timeout=5, socket_timeout=PING_EVERY + 3,
                                    health_check_interval=PING_EVERY, client_name=CLIENT_NAME)

    def send_in_transaction(self, session: Session, payloads: list[str]) -> None:
        """Sent after the commit: Redis is not in the database's transaction."""

    def send_after_commit(self, payloads: list[str]) -> None:
        try:
            for payload in payloads:
                self._publisher.publish(self._channel, payload)
        except redis.RedisError as exc:  # listeners lose Redis too, and drop their caches
            log.warning("could not publish a change on Redis (%s): other workers see it within their cache TTL",
                        type(exc).__name__)

    def subscribe(self) -> RedisSubscription:
        return RedisSubscription(self._client().pubsub(ignore_subscribe_messages=True), self._channel)


class RedisSubscription:
    """redis-py reconnects a lost pub/sub connection by itself and subscribes again; what was
    published in between is lost, so a reconnection is reported as the loss it is."""

    def __init__(self, pubsub: Any, channel: str) -> None:
        self._pubsub = pubsub
        self._channel = channel
        self._reconnected = False
        self._resubscribe = pubsub.on_connect  # redis-py calls it on reconnections only
        pubsub.on_connect = self._on_connect  # a bound method: redis-py keeps a weak reference

    def _on_connect(self, connection: Any) -> None:
        self._reconnected = True
        self._resubscribe(connection)

    def __enter__(self) -> RedisSubscription:
        self._pubsub.subscribe(self._channel)
        return self

    def __exit__(self, *exc: object) -> None:
        self._pubsub.close()

    def messages(self, stopped: threading.Event) -> Iterator[str]:
        while not stopped.is_set():
            message = self._pubsub.get_message(timeout=PING_EVERY)
            if self._reconnected:
                raise redis.ConnectionError("the connection was lost and made again")
            if message is not None and message["type"] == "message":
                data = message["data"]
                yield data.decode() if isinstance(data, bytes) else str(data)
