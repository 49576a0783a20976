"""Wake the outbox dispatchers of every process when rows are queued: PostgreSQL ``LISTEN/NOTIFY``.

Triggers (migration 0008) send ``NOTIFY`` on :data:`OUTBOX_CHANNEL` from every transaction that
inserts outbox rows, whichever code path inserted them, or releases a held channel; PostgreSQL
delivers it when that transaction commits, to every session listening, in every process.
:class:`OutboxListener` is such a session: it calls ``on_wake`` (the dispatcher's ``notify``) for
each notification, so a queued post leaves at once instead of at the dispatcher's next poll.

The notification is only a hint: the rows are in the table, and the dispatcher still polls, so a
notification lost (the listener reconnecting, a process starting) delays a post by one poll at
most; it never loses one. On SQLite (one process, whose producers wake their dispatcher
themselves) the listener does nothing.

The listener holds one dedicated connection of its own, opened with the engine's connection
settings but outside its pool: a ``LISTEN`` lasts as long as its session, and a pooled
connection kept for it would be one fewer for everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs; used in this module only

from bot.storage.database import DRIVER_ERRORS, POSTGRES_CONNECT_TIMEOUT_S, Database, reason

log = logging.getLogger(__name__)

#: The channel the outbox trigger notifies (one per database: every newsdesk process listens).
OUTBOX_CHANNEL = "newsdesk_outbox"
#: How the listener's session shows in ``pg_stat_activity``.
APPLICATION_NAME = "newsdesk outbox listener"

# Errors that mean "the connection is gone or unusable": reconnect.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    *DRIVER_ERRORS,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    ConnectionError,
)
#: How long the liveness check (``SELECT 1``) and a graceful close may take.
_CHECK_TIMEOUT_S = 10.0
_CLOSE_TIMEOUT_S = 5.0
#: URL options SQLAlchemy's asyncpg adapter takes for itself; asyncpg.connect() refuses them.
_ADAPTER_ONLY = frozenset(
    {"prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn"}
)


class OutboxListener:
    """``LISTEN`` on :data:`OUTBOX_CHANNEL` and call ``on_wake()`` for each notification.

    :meth:`start` opens the connection (in a task of its own) and :meth:`stop` closes it. When
    the connection drops (server restart, network, ``pg_terminate_backend``) the listener
    reconnects with backoff (``reconnect_min_s`` doubling up to ``reconnect_max_s``) and calls
    ``on_wake()`` once listening again, since notifications sent meanwhile are lost. A
    connection that hangs silently (a lost machine) is found by a ``SELECT 1`` every
    ``check_interval_s``. On SQLite :meth:`start` and :meth:`stop` do nothing.

    ``on_wake`` runs on the event loop and must return quickly (``OutboxDispatcher.notify``
    sets an event); an exception from it is logged and the listener goes on.
    """

    def __init__(
        self,
        db: Database,
        on_wake: Callable[[], None],
        *,
        channel: str = OUTBOX_CHANNEL,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        check_interval_s: float = 30.0,
    ) -> None:
        if not 0 < reconnect_min_s <= reconnect_max_s:
            raise ValueError("need 0 < reconnect_min_s <= reconnect_max_s")
        if check_interval_s <= 0:
            raise ValueError("check_interval_s must be positive")
        self._db = db
        self._on_wake = on_wake
        self._channel = channel
        self._reconnect_min_s = reconnect_min_s
        self._reconnect_max_s = reconnect_max_s
        self._check_interval_s = check_interval_s
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        #: Set when the current connection is lost (asyncpg calls its termination listener).
        self._lost = asyncio.Event()
        #: Set by stop(): ends a backoff wait early.
        self._stop = asyncio.Event()
        #: Set while LISTEN is in place.
        self._listening = asyncio.Event()
        #: Set once the first attempt to listen has succeeded or failed (start() waits for it).
        self._first_attempt = asyncio.Event()
        self._stopping = False
        #: Notifications received so far (for tests and status).
        self.notifications = 0
        #: Times LISTEN was (re-)established.
        self.connects = 0

    @property
    def enabled(self) -> bool:
        """Whether this database has notifications at all (PostgreSQL)."""
        return self._db.dialect_name == "postgresql"

    @property
    def listening(self) -> bool:
        """Whether ``LISTEN`` is in place right now."""
        return self._listening.is_set()

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend of the listening session, while there is one."""
        conn = self._conn
        return None if conn is None or conn.is_closed() else conn.get_server_pid()

    async def start(self) -> None:
        """Start listening; returns once listening, or once the first attempt failed (the
        listener keeps trying in the background, and the dispatcher's poll covers the meantime).
        Raises RuntimeError if already started. Nothing on SQLite.
        """
        if not self.enabled:
            return
        if self._task is not None:
            raise RuntimeError("this outbox listener is already started")
        self._stopping = False
        self._stop.clear()
        self._first_attempt.clear()
        self._task = asyncio.create_task(self._run(), name="outbox listener")
        waiting = asyncio.ensure_future(self._first_attempt.wait())
        try:
            await asyncio.wait({waiting, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()

    async def wait_listening(self, timeout: float) -> None:  # noqa: ASYNC109 - a plain deadline
        """Wait until ``LISTEN`` is in place (after :meth:`start`, or a reconnect). For tests and
        benchmarks; raises TimeoutError.
        """
        await asyncio.wait_for(self._listening.wait(), timeout)

    async def stop(self) -> None:
        """Stop listening and close the connection. Safe when not started, and twice. Never raises."""
        self._stopping = True
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            # Cancelled, not awaited: it may be waiting out a connect timeout or a backoff.
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._close()

    # --- the connection's life --------------------------------------------------

    async def _run(self) -> None:
        failures = 0  # attempts in a row that did not get to LISTEN
        try:
            while not self._stopping:
                try:
                    await self._connect()
                    failures = 0
                    await self._watch()
                    if not self._stopping:
                        log.warning("outbox listener: connection lost; reconnecting")
                except _CONNECTION_ERRORS as e:
                    if self._stopping:
                        break
                    # WARNING, not ERROR: whatever else uses the database reports it being down, and
                    # deliveries go on at the dispatcher's poll rate meanwhile.
                    was = "connection lost" if self._listening.is_set() else "cannot listen"
                    log.warning("outbox listener: %s: %s; reconnecting", was, reason(e))
                except Exception:
                    # A bug, or a setting asyncpg refuses: said loudly, and tried again (backing off).
                    log.exception("outbox listener failed; reconnecting")
                finally:
                    self._listening.clear()
                    self._first_attempt.set()
                    await self._close()
                delay = min(self._reconnect_min_s * 2.0 ** min(failures, 30), self._reconnect_max_s)
                failures += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
        finally:
            self._listening.clear()
            self._first_attempt.set()

    async def _connect(self) -> None:
        """Open the dedicated connection, ``LISTEN``, and wake the dispatcher once (anything
        queued while nobody listened would otherwise wait for its poll).
        """
        conn: asyncpg.Connection = await asyncpg.connect(**self._connect_kwargs())
        self._conn = conn
        self._lost.clear()
        conn.add_termination_listener(self._terminated)
        await conn.add_listener(self._channel, self._notified)
        self._listening.set()
        self._first_attempt.set()
        self.connects += 1
        if self.connects > 1:
            log.info("outbox listener: listening again")
        self._wake()

    async def _watch(self) -> None:
        """Return when the connection is lost or :meth:`stop` is called; raise if a check fails."""
        conn = self._conn
        assert conn is not None
        while not self._stopping:
            try:
                await asyncio.wait_for(self._lost.wait(), self._check_interval_s)
                return
            except TimeoutError:
                # No news for a while: is the server still there? (A lost machine sends no FIN.)
                await conn.execute("SELECT 1", timeout=_CHECK_TIMEOUT_S)

    def _connect_kwargs(self) -> dict[str, Any]:
        # The engine's own translation of its URL (host, port, user, ssl...), so the listener
        # reaches the database exactly as the pool does.
        _, params = self._db.engine.dialect.create_connect_args(self._db.engine.url)
        kwargs: dict[str, Any] = {k: v for k, v in params.items() if k not in _ADAPTER_ONLY}
        kwargs["server_settings"] = {
            **kwargs.get("server_settings", {}),
            "application_name": APPLICATION_NAME,
        }
        kwargs["timeout"] = POSTGRES_CONNECT_TIMEOUT_S
        return kwargs

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            await conn.close(timeout=_CLOSE_TIMEOUT_S)
        except asyncio.CancelledError:
            conn.terminate()
            raise
        except Exception as e:  # a broken connection: drop the socket
            log.debug("outbox listener: closing the connection failed: %s", reason(e))
            conn.terminate()

    # --- asyncpg callbacks (run on the event loop) ------------------------------

    def _notified(self, conn: Any, pid: int, channel: str, payload: object) -> None:
        self.notifications += 1
        self._wake()

    def _terminated(self, conn: Any) -> None:
        if conn is self._conn:
            self._lost.set()

    def _wake(self) -> None:
        try:
            self._on_wake()
        except Exception:
            log.exception("outbox listener: the wake callback failed")
