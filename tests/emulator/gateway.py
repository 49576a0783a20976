"""The gateway websocket: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME, dispatches.

Sharding as Discord does it: an IDENTIFY with ``shard: [id, count]`` opens a session for the
guilds with ``(guild_id >> 22) % count == id`` (DMs go to shard 0), and a guild's events go to
the live sessions of its shard only. IDENTIFYs are limited by ``session_start_limit``: one per
rate-limit key (``shard_id % max_concurrency``) per ``identify_window_s``; a too-early one is
answered with op 9 Invalid Session (Discord's docs, Gateway → Rate Limiting) and starts no
session. Every IDENTIFY, accepted or refused, is kept in ``identify_log``.

Compression follows the ``compress=`` query the client asks for: ``zlib-stream``
(one zlib context for the whole connection, each payload ending with a
Z_SYNC_FLUSH) or ``zstd-stream`` when ``zstandard`` is installed.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import secrets
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.emulator.recorder import GatewayRecord, Recorder
from tests.emulator.world import World

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE, RESUME, RECONNECT, REQUEST_MEMBERS = 0, 1, 2, 3, 4, 6, 7, 8
INVALID_SESSION, HELLO, HEARTBEAT_ACK = 9, 10, 11

IDENTIFY_WINDOW_S = 5.0
"""Discord's window for ``max_concurrency`` IDENTIFYs (one per rate-limit key)."""

INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)
BUFFERED_EVENTS = 2000
"""Dispatches kept per session for RESUME; an older sequence gets INVALID_SESSION."""


class _Compressor:
    def __init__(self, kind: str | None) -> None:
        self.kind = kind
        if kind == "zlib-stream":
            self._zlib = zlib.compressobj()
        elif kind == "zstd-stream":
            import zstandard  # optional, only when the client asked for it

            self._zstd = zstandard.ZstdCompressor().compressobj()

    def pack(self, text: str) -> bytes | str:
        raw = text.encode()
        if self.kind == "zlib-stream":
            return self._zlib.compress(raw) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        if self.kind == "zstd-stream":
            import zstandard

            return self._zstd.compress(raw) + self._zstd.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
        return text


@dataclass
class _Connection:
    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    compressor: _Compressor
    path: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class SessionStartLimit:
    """What ``/gateway/bot`` reports as ``session_start_limit``; ``remaining`` counts down."""

    total: int = 1000
    remaining: int = 1000
    reset_after_ms: int = 14_400_000
    max_concurrency: int = 1

    def to_payload(self) -> dict[str, int]:
        return {
            "total": self.total,
            "remaining": self.remaining,
            "reset_after": self.reset_after_ms,
            "max_concurrency": self.max_concurrency,
        }


@dataclass(frozen=True)
class IdentifyRecord:
    at: float
    """Monotonic time the IDENTIFY arrived."""
    shard: tuple[int, int]
    """``(shard_id, shard_count)``; ``(0, 1)`` for an IDENTIFY without ``shard``."""
    bucket: int
    """Its rate-limit key: ``shard_id % max_concurrency``."""
    accepted: bool
    """False: refused (op 9) for coming too early in its bucket."""
    session_id: str | None = None


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """The shard a guild's events go to (Discord's formula); DMs (no guild) go to shard 0."""
    return 0 if guild_id is None else (guild_id >> 22) % shard_count


def _guild_of(event: str, data: Any) -> int | None:
    """The guild a dispatch belongs to: ``guild_id``, or the ``id`` of a GUILD_ event's guild."""
    if not isinstance(data, dict):
        return None
    value = data.get("guild_id")
    if value is None and event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"):
        value = data.get("id")
    return int(value) if value is not None else None


@dataclass
class Session:
    id: str
    user_id: int
    intents: int
    shard: tuple[int, int] = (0, 1)
    seq: int = 0
    buffer: collections.deque[tuple[int, str, Any]] = field(
        default_factory=lambda: collections.deque(maxlen=BUFFERED_EVENTS)
    )
    connection: _Connection | None = None
    resumable: bool = True
    resumes: int = 0

    def owns(self, guild_id: int | None) -> bool:
        """Whether this session gets the events of ``guild_id`` (None: a DM)."""
        shard_id, shard_count = self.shard
        return shard_of(guild_id, shard_count) == shard_id


class Gateway:
    """Serves ``/gateway`` (and ``/gateway/resume``, the ``resume_gateway_url``)."""

    def __init__(
        self,
        *,
        world: World,
        recorder: Recorder,
        bot_user_id: Callable[[], int],
        token: Callable[[], str],
        ws_url: Callable[[], str],
        heartbeat_interval_ms: int = 41250,
        allow_privileged_intents: bool = True,
        recommended_shards: int = 1,
        session_start_limit: SessionStartLimit | None = None,
        identify_window_s: float = IDENTIFY_WINDOW_S,
    ) -> None:
        self.world = world
        self.recorder = recorder
        self._bot_user_id = bot_user_id
        self._token = token
        self._ws_url = ws_url
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.allow_privileged_intents = allow_privileged_intents
        self.sessions: dict[str, Session] = {}
        self.ready = asyncio.Event()
        self.identifies = 0
        self.connections: list[str] = []
        """Path and query of every websocket connection, in order (shows use of resume_gateway_url)."""
        self.recommended_shards = recommended_shards
        """The ``shards`` count ``/gateway/bot`` recommends."""
        self.session_start_limit = session_start_limit or SessionStartLimit()
        self.identify_window_s = identify_window_s
        """Each rate-limit key allows one IDENTIFY per this many seconds (0: no limit)."""
        self.identify_log: list[IdentifyRecord] = []
        self._last_identify: dict[int, float] = {}

    # -- public --------------------------------------------------------------------------------

    @property
    def live_sessions(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.resumable]

    @property
    def connected(self) -> bool:
        return any(s.connection is not None for s in self.live_sessions)

    @property
    def refused_identifies(self) -> list[IdentifyRecord]:
        return [r for r in self.identify_log if not r.accepted]

    def sessions_of(self, shard_id: int) -> list[Session]:
        """The live sessions of shard ``shard_id`` (of whatever count)."""
        return [s for s in self.live_sessions if s.shard[0] == shard_id]

    async def dispatch(
        self, event: str, data: Any, *, intent: int | None = None, content_gated: bool = False
    ) -> None:
        """Send a dispatch to the live sessions of its guild's shard; a disconnected one keeps
        it for RESUME.

        ``content_gated``: a message the MESSAGE_CONTENT intent guards (another user's, not
        mentioning the bot): a session without the intent gets it with the content blanked.
        """
        guild_id = _guild_of(event, data)
        for session in self.live_sessions:
            if not session.owns(guild_id):
                continue
            if intent is not None and not session.intents & intent:
                continue
            payload = data
            if content_gated and not session.intents & INTENT_MESSAGE_CONTENT:
                payload = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
            await self._dispatch_to(session, event, payload)

    async def drop(self, *, abrupt: bool = True, code: int = 4000, shard: int | None = None) -> None:
        """Close every connection (or shard ``shard``'s): abruptly (TCP abort, no close frame) or
        with ``code``."""
        for session in self.sessions.values():
            if shard is not None and session.shard[0] != shard:
                continue
            connection, session.connection = session.connection, None
            if connection is None:
                continue
            if abrupt and connection.transport is not None:
                connection.transport.abort()
            else:
                await connection.ws.close(code=code)

    async def invalidate_sessions(self, *, shard: int | None = None) -> None:
        """Forget every session (or shard ``shard``'s), so the next RESUME gets INVALID_SESSION."""
        for session in self.sessions.values():
            if shard is None or session.shard[0] == shard:
                session.resumable = False

    async def send_reconnect(self, *, shard: int | None = None) -> None:
        """Op 7: ask the client (or shard ``shard``) to reconnect and resume."""
        for session in self.live_sessions:
            if shard is not None and session.shard[0] != shard:
                continue
            if session.connection is not None:
                await self._send(session.connection, {"op": RECONNECT, "d": None})

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> None:
        """Poll ``predicate`` until it holds (raises TimeoutError after ``timeout_s`` s)."""
        async with asyncio.timeout(timeout_s):
            while not predicate():  # noqa: ASYNC110  # the predicates read plain state, no event to wait on
                await asyncio.sleep(0.02)

    # -- the websocket -------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoclose=True)
        await ws.prepare(request)
        self.connections.append(request.path_qs)
        compress = request.query.get("compress")
        if compress not in (None, "zlib-stream", "zstd-stream"):
            await ws.close(code=4000)
            return ws
        connection = _Connection(ws, request.transport, _Compressor(compress), request.path)  # type: ignore[arg-type]
        session: Session | None = None
        if request.query.get("v") != "10" or request.query.get("encoding", "json") != "json":
            await ws.close(code=4012 if request.query.get("v") != "10" else 4002)
            return ws
        await self._send(connection, {"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    if message.type is WSMsgType.BINARY:
                        await ws.close(code=4002)  # discord.py never sends binary frames with encoding=json
                    break
                payload = json.loads(message.data)
                self._record("recv", payload)
                session = await self._on_message(connection, session, payload) or session
        finally:
            if session is not None and session.connection is connection:
                session.connection = None
        return ws

    async def _on_message(
        self, connection: _Connection, session: Session | None, payload: dict[str, Any]
    ) -> Session | None:
        op, data = payload.get("op"), payload.get("d")
        if op == HEARTBEAT:
            await self._send(connection, {"op": HEARTBEAT_ACK})
        elif op == IDENTIFY:
            return await self._identify(connection, data or {})
        elif op == RESUME:
            return await self._resume(connection, data or {})
        elif op == REQUEST_MEMBERS and session is not None:
            await self._members_chunk(connection, session, data or {})
        elif op in (PRESENCE, VOICE):
            pass
        else:
            log.warning("gateway: unhandled op %s", op)
        return None

    async def _identify(self, connection: _Connection, data: dict[str, Any]) -> Session | None:
        if data.get("token") != self._token():
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = data.get("intents")
        if not isinstance(intents, int):
            await connection.ws.close(code=4013, message=b"Invalid intent(s).")
            return None
        if intents & PRIVILEGED_INTENTS and not self.allow_privileged_intents:
            await connection.ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        shard = _shard(data.get("shard", [0, 1]))
        if shard is None:
            await connection.ws.close(code=4010, message=b"Invalid shard.")
            return None
        if not await self._admit(connection, shard):
            return None
        # A new session of a shard replaces the old ones of that shard (a restarted bot's).
        for old in self.sessions.values():
            if old.shard == shard:
                old.resumable = False
        session = Session(secrets.token_hex(16), self._bot_user_id(), intents, shard=shard)
        self.sessions[session.id] = session
        session.connection = connection
        self.identifies += 1
        self.identify_log.append(
            IdentifyRecord(time.monotonic(), shard, self._bucket(shard), True, session.id)
        )
        user = self.world.users[session.user_id].to_payload()
        user.update(verified=True, mfa_enabled=False, email=None)
        ready = {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(g), "unavailable": True} for g in self.world.guilds if session.owns(g)],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self._ws_url() + "/resume",
            "application": {"id": str(session.user_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["newsdesk-emulator"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        await self._dispatch_to(session, "READY", ready)
        for guild in self.world.guilds.values():
            if not session.owns(guild.id):
                continue
            await self._dispatch_to(
                session,
                "GUILD_CREATE",
                guild.to_payload(
                    include_members=bool(intents & INTENT_GUILD_MEMBERS), bot_user_id=session.user_id
                ),
            )
        self.ready.set()
        return session

    def _bucket(self, shard: tuple[int, int]) -> int:
        return shard[0] % max(1, self.session_start_limit.max_concurrency)

    async def _admit(self, connection: _Connection, shard: tuple[int, int]) -> bool:
        """Apply the session start limit: one IDENTIFY per rate-limit key per window."""
        now, bucket = time.monotonic(), self._bucket(shard)
        last = self._last_identify.get(bucket)
        if last is not None and now - last < self.identify_window_s:
            log.info(
                "gateway: IDENTIFY of shard %s refused: bucket %d identified %.2f s ago",
                shard,
                bucket,
                now - last,
            )
            self.identify_log.append(IdentifyRecord(now, shard, bucket, False))
            await self._send(connection, {"op": INVALID_SESSION, "d": False})
            return False
        self._last_identify[bucket] = now
        limit = self.session_start_limit
        limit.remaining = max(0, limit.remaining - 1)
        return True

    async def _resume(self, connection: _Connection, data: dict[str, Any]) -> Session | None:
        session = self.sessions.get(data.get("session_id") or "")
        seq = data.get("seq") or 0
        known = session is not None and session.resumable and data.get("token") == self._token()
        missed: list[tuple[int, str, Any]] = []
        if session is not None and known:
            missed = [entry for entry in session.buffer if entry[0] > seq]
            # A gap between what the client has and what we kept means the session cannot resume.
            oldest = session.buffer[0][0] if session.buffer else session.seq + 1
            known = seq >= oldest - 1 and seq <= session.seq
        if session is None or not known:
            await asyncio.sleep(0.05)
            await self._send(connection, {"op": INVALID_SESSION, "d": False})
            return None
        if session.connection is not None and session.connection is not connection:
            await session.connection.ws.close(code=4000)
        session.connection = connection
        for entry_seq, event, entry_data in missed:
            await self._send(connection, {"op": DISPATCH, "t": event, "s": entry_seq, "d": entry_data})
        session.resumes += 1
        await self._dispatch_to(session, "RESUMED", {"_trace": ["newsdesk-emulator"]})
        return session

    async def _members_chunk(self, connection: _Connection, session: Session, data: dict[str, Any]) -> None:
        guild = self.world.guilds.get(int(data.get("guild_id") or 0))
        if guild is None:
            return
        query = (data.get("query") or "").lower()
        wanted = {int(u) for u in data.get("user_ids") or []}
        members = [
            m.to_payload()
            for m in guild.members.values()
            if (not wanted or m.user.id in wanted) and m.user.username.lower().startswith(query)
        ]
        limit = data.get("limit") or 0
        if limit:
            members = members[:limit]
        chunk = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
            "nonce": data.get("nonce"),
        }
        await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)

    # -- plumbing ------------------------------------------------------------------------------

    async def _dispatch_to(self, session: Session, event: str, data: Any) -> None:
        session.seq += 1
        session.buffer.append((session.seq, event, data))
        if session.connection is not None:
            await self._send(session.connection, {"op": DISPATCH, "t": event, "s": session.seq, "d": data})

    async def _send(self, connection: _Connection, payload: dict[str, Any]) -> None:
        self._record("send", payload)
        text = json.dumps(payload, separators=(",", ":"))
        # One lock per connection: the shared compression context must see frames in send order.
        async with connection.lock:
            if connection.ws.closed:
                return
            packed = connection.compressor.pack(text)
            try:
                if isinstance(packed, bytes):
                    await connection.ws.send_bytes(packed)
                else:
                    await connection.ws.send_str(packed)
            except (ConnectionError, RuntimeError) as e:
                log.debug("gateway: send failed: %s", e)

    def _record(self, direction: str, payload: dict[str, Any]) -> None:
        self.recorder.gateway.append(
            GatewayRecord(
                time.monotonic(),
                direction,
                payload.get("op"),
                payload.get("t"),
                payload.get("s"),
                payload.get("d"),
            )
        )


def _shard(value: Any) -> tuple[int, int] | None:
    """A valid ``[shard_id, shard_count]`` as a tuple, else None (Discord closes with 4010)."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    shard_id, count = value
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (shard_id, count)):
        return None
    return (shard_id, count) if 0 <= shard_id < count else None
