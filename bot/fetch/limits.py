"""A per-host cap on requests in flight, so one busy site is not hammered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Slot:
    semaphore: asyncio.Semaphore
    users: int = 0


@dataclass
class HostLimiter:
    """At most ``limit`` holders per host; idle hosts are forgotten, so memory stays bounded."""

    limit: int
    _slots: dict[str, _Slot] = field(default_factory=dict)

    @asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        key = host.rstrip(".").lower()
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(asyncio.Semaphore(self.limit))
        slot.users += 1
        try:
            async with slot.semaphore:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[key]

    def in_use(self) -> int:
        """Hosts currently waited on or held (for tests and metrics)."""
        return len(self._slots)
