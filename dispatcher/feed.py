"""The live feed: ingest (a thread) publishes, WebSocket clients (asyncio) listen."""

from __future__ import annotations

import asyncio
from typing import Any


class FeedHub:
    def __init__(self, max_queue: int = 1000) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.listeners: set[asyncio.Queue[dict[str, Any]]] = set()
        self.max_queue = max_queue

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self.max_queue)
        self.listeners.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.listeners.discard(queue)

    def _deliver(self, message: dict[str, Any]) -> None:
        for queue in list(self.listeners):
            if queue.full():  # a stalled client loses its oldest messages, not the others' feed
                queue.get_nowait()
            queue.put_nowait(message)

    def publish(self, message: dict[str, Any]) -> None:
        """Thread-safe: callable from the MQTT thread."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._deliver, message)
