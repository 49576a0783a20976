"""A per-host cap on requests in flight, so one busy site is not hammered."""

from __future__ import annotations

import asyncio
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

    def hold(self, host: str) -> _Hold:
        """``async with limiter.hold(host):`` — one of the host's ``limit`` places."""
        return _Hold(self, host.rstrip(".").lower())

    def in_use(self) -> int:
        """Hosts currently waited on or held (for tests and metrics)."""
        return len(self._slots)


class _Hold:
    # A plain class rather than @asynccontextmanager: it is entered for every request.
    __slots__ = ("_key", "_limiter", "_slot")

    def __init__(self, limiter: HostLimiter, key: str) -> None:
        self._limiter = limiter
        self._key = key
        self._slot: _Slot | None = None

    async def __aenter__(self) -> None:
        slots = self._limiter._slots
        slot = slots.get(self._key)
        if slot is None:
            slot = slots[self._key] = _Slot(asyncio.Semaphore(self._limiter.limit))
        slot.users += 1
        self._slot = slot
        try:
            await slot.semaphore.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._slot is not None
        self._slot.semaphore.release()
        self._leave()

    def _leave(self) -> None:
        assert self._slot is not None
        self._slot.users -= 1
        if self._slot.users == 0:
            del self._limiter._slots[self._key]
