"""A pymongo command listener attached to Django's MongoDB client, for tests.

django-mongodb-backend creates one ``MongoClient`` per alias and keeps it in a class-level
pool, and pymongo fixes a client's listeners when the client is created
(``pymongo.monitoring.register`` only affects clients created afterwards). :func:`listening`
therefore closes the pool, reconnects with ``event_listeners`` added to
``DATABASES["default"]["OPTIONS"]`` (which ``DatabaseWrapper.get_connection_params`` passes
to ``MongoClient``), and restores the plain client afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connections
from pymongo import monitoring


@dataclass
class Command:
    name: str
    collection: str | None
    body: dict[str, Any]
    returned: int | None = None


@dataclass
class Recorder(monitoring.CommandListener):
    commands: list[Command] = field(default_factory=list)
    _by_request: dict[int, Command] = field(default_factory=dict)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        body = dict(event.command)
        collection = body.get(event.command_name)
        command = Command(
            event.command_name, collection if isinstance(collection, str) else None, body
        )
        self.commands.append(command)
        self._by_request[event.request_id] = command

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        command = self._by_request.pop(event.request_id, None)
        cursor = event.reply.get("cursor") if isinstance(event.reply, dict) else None
        if command is not None and isinstance(cursor, dict):
            command.returned = len(cursor.get("firstBatch", []))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._by_request.pop(event.request_id, None)

    def clear(self) -> None:
        self.commands.clear()

    def on(self, collections: set[str]) -> list[Command]:
        return [c for c in self.commands if c.collection in collections]


@contextmanager
def listening(alias: str = "default") -> Iterator[Recorder]:
    recorder = Recorder()
    wrapper: Any = connections[alias]
    options = wrapper.settings_dict["OPTIONS"]
    wrapper.close_pool()
    wrapper.settings_dict["OPTIONS"] = {**options, "event_listeners": [recorder]}
    wrapper.connect()
    try:
        yield recorder
    finally:
        wrapper.close_pool()
        wrapper.settings_dict["OPTIONS"] = options
        wrapper.connect()
