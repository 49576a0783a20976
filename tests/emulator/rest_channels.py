"""REST: channels, messages, channel webhooks, reactions (threads and forums: rest_threads).

Every check the real API makes on the bot's own permissions is made here, so a
missing permission shows up as Discord's 403 (50001 / 50013).
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.emulator import errors as e
from tests.emulator import limits
from tests.emulator.httputil import int_param, json_response, no_content, query_int, read_body
from tests.emulator.messages import plain_message
from tests.emulator.permissions import Perm, missing
from tests.emulator.rest_threads import check_postable
from tests.emulator.world import Channel, Guild

if TYPE_CHECKING:
    from tests.emulator.server import Emulator


def check_message_payload(
    payload: dict[str, Any], *, attachments: int, prefix: str | None = None, require_body: bool = True
) -> None:
    """Raise 50035 / 50006 as Discord would for ``payload``."""
    problems = limits.validate_message(payload)
    if problems:
        raise e.invalid_form_body({prefix: problems} if prefix else problems)
    if require_body and limits.is_empty(payload, attachment_count=attachments):
        raise e.ApiError(400, e.EMPTY_MESSAGE, "Cannot send an empty message")


class ChannelRoutes:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def add_to(self, router: web.UrlDispatcher, prefix: str) -> None:
        r = router
        r.add_get(prefix + "/channels/{channel_id}", self.get_channel)
        r.add_get(prefix + "/channels/{channel_id}/messages", self.list_messages)
        r.add_post(prefix + "/channels/{channel_id}/messages", self.create_message)
        r.add_post(prefix + "/channels/{channel_id}/messages/bulk-delete", self.bulk_delete)
        r.add_get(prefix + "/channels/{channel_id}/messages/{message_id}", self.get_message)
        r.add_patch(prefix + "/channels/{channel_id}/messages/{message_id}", self.edit_message)
        r.add_delete(prefix + "/channels/{channel_id}/messages/{message_id}", self.delete_message)
        r.add_put(prefix + "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.react)
        r.add_delete(
            prefix + "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.unreact
        )
        r.add_post(prefix + "/channels/{channel_id}/typing", self.typing)
        r.add_post(prefix + "/channels/{channel_id}/webhooks", self.create_webhook)
        r.add_get(prefix + "/channels/{channel_id}/webhooks", self.channel_webhooks)

    # -- helpers -------------------------------------------------------------------------------

    def channel(self, request: web.Request) -> tuple[Guild | None, Channel | None, int]:
        channel_id = int_param(request, "channel_id")
        if channel_id in self.emu.dm_channels:
            return None, None, channel_id
        found = self.emu.world.find_channel(channel_id)
        if found is None:
            raise e.not_found("Channel", e.UNKNOWN_CHANNEL)
        return found[0], found[1], channel_id

    def require(self, guild: Guild | None, channel: Channel | None, need: int) -> None:
        """403 unless the bot has ``need`` in ``channel`` (DMs need nothing)."""
        if guild is None or channel is None:
            return
        have = guild.permissions_in(channel, self.emu.bot_user_id)
        if not have & Perm.VIEW_CHANNEL:
            raise e.missing_access()
        if missing(have, need):
            raise e.missing_permissions()

    def message(self, channel_id: int, request: web.Request) -> dict[str, Any]:
        message = self.emu.messages.get(channel_id, int_param(request, "message_id"))
        if message is None:
            raise e.not_found("Message", e.UNKNOWN_MESSAGE)
        return message

    # -- channels and messages ------------------------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.Response:
        guild, channel, channel_id = self.channel(request)
        if channel is None:
            return json_response(self.emu.dm_channels[channel_id])
        self.require(guild, channel, Perm.VIEW_CHANNEL)
        return json_response(channel.to_payload())

    async def list_messages(self, request: web.Request) -> web.Response:
        guild, channel, channel_id = self.channel(request)
        self.require(guild, channel, Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY)
        limit = query_int(request, "limit", 50) or 50
        if not 1 <= limit <= 100:
            raise e.invalid_form_body(
                {
                    "limit": {
                        "_errors": [
                            {
                                "code": "NUMBER_TYPE_MAX",
                                "message": "Int value should be less than or equal to 100.",
                            }
                        ]
                    }
                }
            )
        found = self.emu.messages.history(
            channel_id,
            limit=limit,
            before=query_int(request, "before"),
            after=query_int(request, "after"),
            around=query_int(request, "around"),
        )
        return json_response(found)

    async def get_message(self, request: web.Request) -> web.Response:
        guild, channel, channel_id = self.channel(request)
        self.require(guild, channel, Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY)
        return json_response(self.message(channel_id, request))

    async def create_message(self, request: web.Request) -> web.Response:
        guild, channel, channel_id = self.channel(request)
        body = await read_body(request)
        send = (
            Perm.SEND_MESSAGES_IN_THREADS if channel is not None and channel.is_thread else Perm.SEND_MESSAGES
        )
        self.require(guild, channel, send | (Perm.ATTACH_FILES if body.uploads else 0))
        check_message_payload(body.payload, attachments=len(body.uploads))
        await check_postable(self.emu, guild, channel)
        now = time.monotonic()
        existing = self.emu.messages.dedupe(self.emu.bot_user_id, channel_id, body.payload, now=now)
        if existing is not None:
            return json_response(existing)
        attachments = self.emu.messages.attachments_for(channel_id, body.payload, body.uploads)
        message = self.emu.messages.build(
            channel_id=channel_id,
            author=self.emu.bot_user,
            payload=plain_message(body.payload),
            attachments=attachments,
        )
        await self.emu.publish_message(message, nonce_author=self.emu.bot_user_id, now=now)
        if self.emu.unanswered_creates > 0:
            self.emu.unanswered_creates -= 1
            await self.emu.release_unanswered.wait()
        return json_response(message)

    async def edit_message(self, request: web.Request) -> web.Response:
        guild, channel, channel_id = self.channel(request)
        self.require(guild, channel, Perm.VIEW_CHANNEL)
        message = self.message(channel_id, request)
        body = await read_body(request)
        if int(message["author"]["id"]) != self.emu.bot_user_id:
            if set(body.payload) - {"flags"}:
                raise e.ApiError(403, 50005, "Cannot edit a message authored by another user")
            self.require(guild, channel, Perm.MANAGE_MESSAGES)
        check_message_payload(body.payload, attachments=len(body.uploads), require_body=False)
        attachments = None
        if "attachments" in body.payload or body.uploads:
            attachments = self.emu.messages.attachments_for(
                channel_id, body.payload, body.uploads, message["attachments"]
            )
        self.emu.messages.edit(message, body.payload, attachments)
        await self.emu.publish_edit(message)
        return json_response(message)

    async def delete_message(self, request: web.Request) -> web.Response:
        guild, channel, channel_id = self.channel(request)
        message = self.message(channel_id, request)
        if int(message["author"]["id"]) != self.emu.bot_user_id:
            self.require(guild, channel, Perm.MANAGE_MESSAGES)
        await self.emu.publish_delete(channel_id, int(message["id"]))
        return no_content()

    async def bulk_delete(self, request: web.Request) -> web.Response:
        guild, channel, channel_id = self.channel(request)
        self.require(guild, channel, Perm.MANAGE_MESSAGES)
        ids = (await read_body(request)).payload.get("messages") or []
        if not 2 <= len(ids) <= 100:
            raise e.invalid_form_body(
                {
                    "messages": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_BAD_LENGTH",
                                "message": "Must be between 2 and 100 in length.",
                            }
                        ]
                    }
                }
            )
        for message_id in ids:
            await self.emu.publish_delete(channel_id, int(message_id))
        return no_content()

    async def react(self, request: web.Request) -> web.Response:
        guild, channel, channel_id = self.channel(request)
        self.require(guild, channel, Perm.ADD_REACTIONS | Perm.READ_MESSAGE_HISTORY)
        message = self.message(channel_id, request)
        emoji = request.match_info["emoji"]
        if not any(r["emoji"]["name"] == emoji for r in message["reactions"]):
            message["reactions"].append({"emoji": {"id": None, "name": emoji}, "count": 1, "me": True})
        return no_content()

    async def unreact(self, request: web.Request) -> web.Response:
        _, _, channel_id = self.channel(request)
        message = self.message(channel_id, request)
        emoji = request.match_info["emoji"]
        message["reactions"] = [r for r in message["reactions"] if r["emoji"]["name"] != emoji]
        return no_content()

    async def typing(self, request: web.Request) -> web.Response:
        guild, channel, _ = self.channel(request)
        self.require(guild, channel, Perm.SEND_MESSAGES)
        return no_content()

    # -- webhooks ------------------------------------------------------------------------------

    async def create_webhook(self, request: web.Request) -> web.Response:
        guild, channel, channel_id = self.channel(request)
        self.require(guild, channel, Perm.MANAGE_WEBHOOKS)
        if channel is not None and channel.is_thread:
            raise e.ApiError(400, 50024, "Cannot execute action on this channel type")
        if len([w for w in self.emu.webhooks.values() if w["channel_id"] == str(channel_id)]) >= 15:
            raise e.ApiError(400, 30007, "Maximum number of webhooks reached (15)")
        name = (await read_body(request)).payload.get("name") or ""
        if not 1 <= len(name) <= 80 or "discord" in name.lower() or "clyde" in name.lower():
            raise e.invalid_form_body(
                {
                    "name": {
                        "_errors": [
                            {"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 80 in length."}
                        ]
                    }
                }
            )
        webhook = {
            "id": str(self.emu.new_id()),
            "type": 1,
            "guild_id": str(guild.id) if guild else None,
            "channel_id": str(channel_id),
            "name": name,
            "avatar": None,
            "token": secrets.token_urlsafe(48),
            "application_id": str(self.emu.application_id),
            "user": self.emu.bot_user.to_payload(),
        }
        self.emu.webhooks[int(webhook["id"])] = webhook
        return json_response(webhook)

    async def channel_webhooks(self, request: web.Request) -> web.Response:
        guild, channel, channel_id = self.channel(request)
        self.require(guild, channel, Perm.MANAGE_WEBHOOKS)
        return json_response([w for w in self.emu.webhooks.values() if w["channel_id"] == str(channel_id)])
