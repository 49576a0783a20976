"""The emulator: an aiohttp app on 127.0.0.1 serving Discord's REST API and gateway.

Tests drive it through the methods of :class:`Emulator`: start it, point a
client at ``api_base`` / ``gateway_url``, then invoke commands, click buttons,
drop the gateway or inject 429s, and read what the bot did.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from aiohttp import web

from tests.emulator import errors as e
from tests.emulator import interactions as i
from tests.emulator.gateway import IDENTIFY_WINDOW_S, INTENT_GUILD_MESSAGES, Gateway, SessionStartLimit
from tests.emulator.httputil import API_PREFIX
from tests.emulator.ids import make_token, snowflake, user_id_from_token
from tests.emulator.messages import EPHEMERAL, MessageStore, UploadedFile
from tests.emulator.middleware import api_middleware, unknown_endpoint
from tests.emulator.ratelimit import (
    Injection,
    RateLimitConfig,
    RateLimiter,
)
from tests.emulator.recorder import Recorder
from tests.emulator.rest_channels import ChannelRoutes
from tests.emulator.rest_interactions import InteractionRoutes
from tests.emulator.rest_misc import MiscRoutes
from tests.emulator.rest_threads import ThreadRoutes
from tests.emulator.world import Channel, DefaultWorld, Member, Role, User, default_world


class Emulator:
    """A local Discord: REST under ``/api/v10``, the gateway at ``/gateway``."""

    def __init__(
        self,
        *,
        world: DefaultWorld | None = None,
        rate_limits: RateLimitConfig | None = None,
        interaction_deadline_s: float = 3.0,
        interaction_token_lifetime_s: float = i.TOKEN_LIFETIME_S,
        heartbeat_interval_ms: int = 41250,
        recommended_shards: int = 1,
        session_start_limit: SessionStartLimit | None = None,
        identify_window_s: float = IDENTIFY_WINDOW_S,
    ) -> None:
        """``recommended_shards`` and ``session_start_limit``: what ``/gateway/bot`` answers;
        ``identify_window_s``: the gateway accepts one IDENTIFY per rate-limit key
        (``shard_id % max_concurrency``) in this many seconds, as Discord does.
        """
        self.default = world or default_world()
        self.world = self.default.world
        self.bot_user: User = self.default.bot
        self.bot_user_id = self.bot_user.id
        self.application_id = self.bot_user.id
        self.token = make_token(self.bot_user_id)
        assert user_id_from_token(self.token) == self.bot_user_id
        self.interaction_deadline_s = interaction_deadline_s
        self.interaction_token_lifetime_s = interaction_token_lifetime_s
        self.recorder = Recorder()
        self.ratelimiter = RateLimiter(rate_limits or RateLimitConfig())
        self.injections: list[Injection] = []
        #: Message creations whose answer is withheld (the message exists; the sender never
        #: hears so), and the event that ends the wait (set when the emulator closes).
        self.unanswered_creates = 0
        self.release_unanswered = asyncio.Event()
        self.messages = MessageStore(lambda: self.http_base)
        self.global_commands: dict[int, dict[str, Any]] = {}
        self.guild_commands: dict[int, dict[int, dict[str, Any]]] = {}
        self.command_syncs = 0
        self.interactions: dict[int, i.InteractionRecord] = {}
        self.interactions_by_token: dict[str, i.InteractionRecord] = {}
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.dm_channels: dict[int, dict[str, Any]] = {}
        self.gateway = Gateway(
            world=self.world,
            recorder=self.recorder,
            bot_user_id=lambda: self.bot_user_id,
            token=lambda: self.token,
            ws_url=lambda: self.gateway_url,
            heartbeat_interval_ms=heartbeat_interval_ms,
            recommended_shards=recommended_shards,
            session_start_limit=session_start_limit,
            identify_window_s=identify_window_s,
        )
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Emulator:
        app = web.Application(middlewares=[api_middleware(self)], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/resume", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        MiscRoutes(self).add_to(app.router, API_PREFIX)
        channels = ChannelRoutes(self)
        channels.add_to(app.router, API_PREFIX)
        ThreadRoutes(self, channels).add_to(app.router, API_PREFIX)
        InteractionRoutes(self).add_to(app.router, API_PREFIX)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", unknown_endpoint)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        self.release_unanswered.set()
        await self.gateway.drop(abrupt=False, code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.http_base + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def new_id(self) -> int:
        return snowflake()

    # -- what the bot did ----------------------------------------------------------------------

    def commands(self, guild_id: int | None = None) -> dict[str, dict[str, Any]]:
        """Registered commands by name (global, or one guild's)."""
        scope = self.global_commands if guild_id is None else self.guild_commands.get(guild_id, {})
        return {c["name"]: c for c in scope.values()}

    def channel_messages(self, channel: Channel | int) -> list[dict[str, Any]]:
        """A channel's visible messages, oldest first."""
        channel_id = channel if isinstance(channel, int) else channel.id
        stored = self.messages.channels.get(channel_id, {})
        return [stored[k] for k in sorted(stored)]

    def failure_report(self) -> str:
        """Requests, gateway frames, interactions and messages: what a failing test prints."""
        lines = [self.recorder.dump(), "--- interactions ---"]
        for rec in self.interactions.values():
            snap = rec.snapshot()
            lines.append(
                f"{rec.id} {_describe(rec)!r}: callback={snap.callback_type} ack_ms={snap.ack_ms} "
                f"errors={[(err.status, err.code) for err in rec.errors]} timeline={rec.timeline}"
            )
        lines.append("--- messages (channel, id, content, embeds, flags) ---")
        for channel_id, stored in self.messages.channels.items():
            for message in list(stored.values())[-20:]:
                lines.append(
                    f"#{channel_id} {message['id']} {message['content'][:160]!r} "
                    f"embeds={len(message['embeds'])} flags={message['flags']}"
                )
        for message in list(self.messages.ephemeral.values())[-20:]:
            lines.append(
                f"(ephemeral) {message['id']} {message['content'][:160]!r} embeds={len(message['embeds'])}"
            )
        return "\n".join(lines)

    async def wait_until_ready(self, timeout_s: float = 10.0) -> None:
        await asyncio.wait_for(self.gateway.ready.wait(), timeout_s)

    async def wait_for_commands(self, timeout_s: float = 10.0, *, guild_id: int | None = None) -> None:
        await self.gateway.wait_for(lambda: bool(self.commands(guild_id)), timeout_s)

    # -- driving the bot -----------------------------------------------------------------------

    def inject(
        self,
        pattern: str,
        status: int = 429,
        count: int = 1,
        *,
        retry_after: float = 0.5,
        is_global: bool = False,
    ) -> Injection:
        """Answer the next ``count`` requests matching ``pattern`` with ``status``.

        ``pattern`` is ``"POST /channels/*/messages"`` or ``"/channels/{channel_id}/messages"``.
        """
        injection = Injection(pattern, status, count, retry_after, is_global)
        self.injections.append(injection)
        return injection

    def withhold_create_answers(self, count: int = 1) -> None:
        """Create the next ``count`` bot messages but never answer the requests (a crash or a
        lost connection between Discord creating a message and the bot learning its id).
        """
        self.unanswered_creates += count

    def set_rate_limits(self, config: RateLimitConfig) -> None:
        self.ratelimiter = RateLimiter(config)

    async def drop_gateway(self, *, abrupt: bool = True, code: int = 4000, shard: int | None = None) -> None:
        """Drop the bot's gateway connections (only shard ``shard``'s, when given)."""
        await self.gateway.drop(abrupt=abrupt, code=code, shard=shard)

    def upload(
        self,
        filename: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        channel: Channel | None = None,
    ) -> dict[str, Any]:
        """A file as a user would attach it to a command option."""
        channel_id = (channel or self.default.general).id
        return self.messages.store_file(channel_id, UploadedFile(0, filename, content_type, data))

    async def add_member(
        self, name: str, *, permissions: int | None = None, roles: tuple[Role, ...] = ()
    ) -> Member:
        """A new member of the default guild; ``permissions`` gives them a role of their own with those."""
        guild = self.default.guild
        granted = list(roles)
        if permissions is not None:
            role = guild.add_role(f"{name}-role", permissions)
            await self.gateway.dispatch(
                "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.to_payload()}
            )
            granted.append(role)
        member = guild.add_member(self.world.add_user(name), granted)
        await self.gateway.dispatch("GUILD_MEMBER_ADD", {"guild_id": str(guild.id), **member.to_payload()})
        return member

    async def set_overwrite(
        self, channel: Channel, target: Role | Member | User, *, allow: int = 0, deny: int = 0
    ) -> None:
        """Change a channel's permission overwrite and tell the bot (CHANNEL_UPDATE)."""
        self.world.guilds[channel.guild_id].set_overwrite(channel, target, allow=allow, deny=deny)
        await self.publish_channel(channel)

    async def set_role_permissions(self, role: Role, permissions: int) -> None:
        """Change a role's permissions and tell the bot (GUILD_ROLE_UPDATE)."""
        role.permissions = int(permissions)
        guild = next(g for g in self.world.guilds.values() if role.id in g.roles)
        await self.publish_role(guild.id, role.id)

    async def post_user_message(self, channel: Channel, member: Member, content: str) -> dict[str, Any]:
        """A message written by a user (e.g. to test a message listener)."""
        message = self.messages.build(
            channel_id=channel.id, author=member.user, payload={"content": content}, attachments=[]
        )
        await self.publish_message(message)
        return message

    async def create_interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        member: Member | None = None,
        channel: Channel | None = None,
        message: dict[str, Any] | None = None,
    ) -> i.InteractionRecord:
        """Dispatch an INTERACTION_CREATE and return its live record."""
        member = member or self.default.member
        channel = channel or self.default.general
        guild = self.world.guilds[channel.guild_id]
        interaction_id = snowflake()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(64)
        member_perms = guild.permissions_in(channel, member.user.id)
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "channel_id": str(channel.id),
            "channel": i.channel_summary(channel, member_perms),
            "member": member.to_payload(permissions=member_perms),
            "token": token,
            "version": 1,
            "app_permissions": str(guild.permissions_in(channel, self.bot_user_id)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": i.ATTACHMENT_SIZE_LIMIT,
        }
        if message is not None:
            payload["message"] = message
        rec = i.InteractionRecord(
            interaction_id, token, kind, payload, channel.id, guild.id, source_message=message
        )
        self.interactions[interaction_id] = rec
        self.interactions_by_token[token] = rec
        rec.dispatched_at = time.monotonic()
        rec.note("dispatched", rec.dispatched_at)
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return rec

    async def await_result(
        self, rec: i.InteractionRecord, *, timeout_s: float = 10.0, settle: float = 0.3
    ) -> i.InteractionResult:
        """Wait until the bot answered (and stayed quiet ``settle`` s); a snapshot of the answer.

        Raises :class:`InteractionTimeout` when nothing came back within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            now = time.monotonic()
            if rec.settled and now - rec.last_activity >= settle:
                return rec.snapshot()
            await asyncio.sleep(0.02)
        if rec.callback_type is None and not rec.errors:
            raise InteractionTimeout(
                f"the bot did not answer interaction {rec.id} ({_describe(rec)}) within {timeout_s} s; "
                f"timeline: {rec.timeline}"
            )
        return rec.snapshot()

    async def dispatch_command(
        self,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        user: Member | None = None,
        channel: Channel | None = None,
        guild_id: int | None = None,
    ) -> i.InteractionRecord:
        """Send ``/command`` without waiting: the live record (see :meth:`await_result`)."""
        member = user or self.default.member
        data = self.command_data(command, options or {}, guild_id=guild_id, user=member)
        return await self.create_interaction(i.APPLICATION_COMMAND, data, member=member, channel=channel)

    async def invoke(
        self,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        user: Member | None = None,
        channel: Channel | None = None,
        guild_id: int | None = None,
        timeout_s: float = 10.0,
        settle: float = 0.3,
    ) -> i.InteractionResult:
        """Run ``/command`` (``"feed add"`` for a subcommand) as ``user``; the bot's answer."""
        rec = await self.dispatch_command(command, options, user=user, channel=channel, guild_id=guild_id)
        return await self.await_result(rec, timeout_s=timeout_s, settle=settle)

    async def autocomplete(
        self,
        command: str,
        options: dict[str, Any],
        focused: str,
        *,
        user: Member | None = None,
        channel: Channel | None = None,
        timeout_s: float = 10.0,
    ) -> i.InteractionResult:
        member = user or self.default.member
        data = self.command_data(command, options, focused=focused, user=member)
        rec = await self.create_interaction(i.AUTOCOMPLETE, data, member=member, channel=channel)
        return await self.await_result(rec, timeout_s=timeout_s, settle=0.05)

    def command_data(
        self,
        command: str,
        options: dict[str, Any],
        *,
        guild_id: int | None = None,
        focused: str | None = None,
        user: Member | None = None,
    ) -> dict[str, Any]:
        name, *path = command.lstrip("/").split()
        schema = self.commands(guild_id).get(name)
        if schema is None:
            known = sorted(self.commands(guild_id))
            raise ValueError(f"the bot registered no command /{name} (it registered {known})")
        resolved: dict[str, Any] = {}
        guild = self.world.guilds.get(guild_id or self.default.guild.id)
        built = i.command_options(
            schema,
            path,
            options,
            guild=guild,
            resolve=resolved,
            focused=focused,
            user_id=(user or self.default.member).user.id,
        )
        data: dict[str, Any] = {
            "id": schema["id"],
            "name": name,
            "type": schema.get("type", 1),
            "options": built,
        }
        if resolved:
            data["resolved"] = resolved
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        return data

    async def click(
        self,
        message: dict[str, Any],
        custom_id: str,
        *,
        user: Member | None = None,
        values: list[str] | None = None,
        timeout_s: float = 10.0,
        settle: float = 0.3,
    ) -> i.InteractionResult:
        """Press the button (or pick ``values`` in the select) ``custom_id`` on ``message``."""
        component = _find_component(message.get("components") or [], custom_id)
        if component is None:
            raise ValueError(f"message {message['id']} has no component {custom_id!r}")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled; a user cannot use it")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if values is not None:
            data["values"] = values
        found = self.world.find_channel(int(message["channel_id"]))
        channel = found[1] if found else None
        # Components live on the stored message: always send the current version of it.
        current = self.messages.get(int(message["channel_id"]), int(message["id"])) or message
        rec = await self.create_interaction(
            i.MESSAGE_COMPONENT, data, member=user, channel=channel, message=current
        )
        return await self.await_result(rec, timeout_s=timeout_s, settle=settle)

    async def submit_modal(
        self,
        result: i.InteractionResult,
        values: dict[str, str],
        *,
        user: Member | None = None,
        timeout_s: float = 10.0,
    ) -> i.InteractionResult:
        """Fill in and submit the modal the bot answered ``result`` with."""
        if result.modal is None:
            raise ValueError("that interaction was not answered with a modal")
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]} for k, v in values.items()
        ]
        data = {"custom_id": result.modal["custom_id"], "components": rows}
        original = self.interactions[result.id]
        found = self.world.find_channel(original.channel_id)
        rec = await self.create_interaction(
            i.MODAL_SUBMIT, data, member=user, channel=found[1] if found else None
        )
        return await self.await_result(rec, timeout_s=timeout_s)

    # -- publishing (store + gateway) ----------------------------------------------------------

    async def publish_message(
        self, message: dict[str, Any], *, nonce_author: int | None = None, now: float | None = None
    ) -> None:
        self.messages.add(message, nonce_author=nonce_author, now=now)
        if message["flags"] & EPHEMERAL:
            return
        channel_id = int(message["channel_id"])
        found = self.world.find_channel(channel_id)
        event = dict(message)
        if found is not None:
            guild, channel = found
            channel.last_message_id = int(message["id"])
            event["guild_id"] = str(guild.id)
            member = guild.members.get(int(message["author"]["id"]))
            if member is not None and "webhook_id" not in message:
                event["member"] = {k: v for k, v in member.to_payload().items() if k != "user"}
        await self.gateway.dispatch(
            "MESSAGE_CREATE", event, intent=INTENT_GUILD_MESSAGES, content_gated=self._content_gated(message)
        )

    def _content_gated(self, message: dict[str, Any]) -> bool:
        """Discord hides content from bots without the intent, unless the message is theirs or pings them."""
        if int(message["author"]["id"]) == self.bot_user_id or int(message["channel_id"]) in self.dm_channels:
            return False
        mentioned = any(int(u["id"]) == self.bot_user_id for u in message.get("mentions") or [])
        return not (mentioned or f"<@{self.bot_user_id}>" in (message.get("content") or ""))

    async def publish_edit(self, message: dict[str, Any]) -> None:
        if message["flags"] & EPHEMERAL:
            return
        found = self.world.find_channel(int(message["channel_id"]))
        event = dict(message)
        if found is not None:
            event["guild_id"] = str(found[0].id)
        await self.gateway.dispatch(
            "MESSAGE_UPDATE", event, intent=INTENT_GUILD_MESSAGES, content_gated=self._content_gated(message)
        )

    async def publish_delete(self, channel_id: int, message_id: int) -> None:
        message = self.messages.delete(channel_id, message_id)
        if message is None:
            raise e.not_found("Message", e.UNKNOWN_MESSAGE)
        found = self.world.find_channel(channel_id)
        event: dict[str, Any] = {"id": str(message_id), "channel_id": str(channel_id)}
        if found is not None:
            event["guild_id"] = str(found[0].id)
        if not message["flags"] & EPHEMERAL:
            await self.gateway.dispatch("MESSAGE_DELETE", event, intent=INTENT_GUILD_MESSAGES)

    async def publish_thread(self, thread: Channel) -> None:
        await self.gateway.dispatch("THREAD_CREATE", {**thread.to_payload(), "newly_created": True})

    async def publish_channel(self, channel: Channel) -> None:
        """Tell the bot a channel changed (after a test edited its overwrites)."""
        await self.gateway.dispatch("CHANNEL_UPDATE", channel.to_payload())

    async def publish_role(self, guild_id: int, role_id: int) -> None:
        role = self.world.guilds[guild_id].roles[role_id]
        await self.gateway.dispatch(
            "GUILD_ROLE_UPDATE", {"guild_id": str(guild_id), "role": role.to_payload()}
        )

    async def publish_member(self, guild_id: int, member: Member) -> None:
        await self.gateway.dispatch("GUILD_MEMBER_UPDATE", {"guild_id": str(guild_id), **member.to_payload()})

    # -- files ---------------------------------------------------------------------------------

    async def _attachment(self, request: web.Request) -> web.Response:
        stored = self.messages.files.get(int(request.match_info["attachment_id"]))
        if stored is None:
            return web.Response(status=404)
        return web.Response(
            body=stored.data, content_type=stored.payload.get("content_type") or "application/octet-stream"
        )


class InteractionTimeout(AssertionError):
    """The bot never answered an interaction."""


def _describe(rec: i.InteractionRecord) -> str:
    data = rec.payload.get("data") or {}
    return data.get("name") or data.get("custom_id") or f"type {rec.type}"


def _find_component(components: list[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        found = _find_component(component.get("components") or [], custom_id)
        if found is not None:
            return found
        accessory = component.get("accessory")
        if isinstance(accessory, dict) and accessory.get("custom_id") == custom_id:
            return accessory
    return None
