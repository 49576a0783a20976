"""REST: threads and forum channels.

A thread started from a message (its id is the message's), a thread without one, a forum post
(``POST /channels/{forum}/threads`` with its first message: the post's id is that message's,
stored in the thread), the guild's active threads, and what posting in a thread or a forum
takes: a forum takes no plain message; an archived thread reopens when the bot posts, unless
it is locked and the bot lacks Manage Threads.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.emulator import errors as e
from tests.emulator.httputil import json_response, no_content, read_body
from tests.emulator.messages import plain_message
from tests.emulator.permissions import Perm, missing
from tests.emulator.world import FORUM, PRIVATE_THREAD, PUBLIC_THREAD, Channel, Guild

if TYPE_CHECKING:
    from tests.emulator.rest_channels import ChannelRoutes
    from tests.emulator.server import Emulator

#: Discord's codes for what this module refuses.
THREAD_ALREADY_CREATED = 160004
ARCHIVED_THREAD = 50083
NOT_TEXT_CHANNEL = 50008
WRONG_CHANNEL_TYPE = 50024
#: At most this many tags on a forum post.
FORUM_TAG_LIMIT = 5
#: A post without a tag in a forum that requires one.
TAG_REQUIRED = 40067


class ThreadRoutes:
    def __init__(self, emu: Emulator, channels: ChannelRoutes) -> None:
        self.emu = emu
        self.channels = channels

    def add_to(self, router: web.UrlDispatcher, prefix: str) -> None:
        r = router
        r.add_post(prefix + "/channels/{channel_id}/messages/{message_id}/threads", self.thread_from_message)
        r.add_post(prefix + "/channels/{channel_id}/threads", self.thread_without_message)
        r.add_put(prefix + "/channels/{channel_id}/thread-members/@me", self.join_thread)
        r.add_get(prefix + "/guilds/{guild_id}/threads/active", self.active_threads)

    async def thread_from_message(self, request: web.Request) -> web.Response:
        guild, channel, channel_id = self.channels.channel(request)
        self.channels.require(guild, channel, Perm.CREATE_PUBLIC_THREADS)
        message = self.channels.message(channel_id, request)
        if guild is None or channel is None or channel.is_thread or channel.type == FORUM:
            raise e.ApiError(400, WRONG_CHANNEL_TYPE, "Cannot execute action on this channel type")
        if message.get("thread"):
            raise e.ApiError(
                400, THREAD_ALREADY_CREATED, "A thread has already been created for this message"
            )
        name = (await read_body(request)).payload.get("name") or ""
        check_thread_name(name)
        thread = guild.add_thread(channel, name, owner_id=self.emu.bot_user_id, thread_id=int(message["id"]))
        message["thread"] = thread.to_payload()
        await self.emu.publish_thread(thread)
        return json_response(thread.to_payload(), status=201)

    async def thread_without_message(self, request: web.Request) -> web.Response:
        guild, channel, _ = self.channels.channel(request)
        payload = (await read_body(request)).payload
        if channel is not None and channel.type == FORUM:
            return await self.forum_post(guild, channel, payload)
        private = payload.get("type", PRIVATE_THREAD) == PRIVATE_THREAD
        self.channels.require(
            guild, channel, Perm.CREATE_PRIVATE_THREADS if private else Perm.CREATE_PUBLIC_THREADS
        )
        if guild is None or channel is None or channel.is_thread:
            raise e.ApiError(400, WRONG_CHANNEL_TYPE, "Cannot execute action on this channel type")
        check_thread_name(payload.get("name") or "")
        thread = guild.add_thread(channel, payload["name"], owner_id=self.emu.bot_user_id, private=private)
        assert thread.type in (PUBLIC_THREAD, PRIVATE_THREAD)
        await self.emu.publish_thread(thread)
        return json_response(thread.to_payload(), status=201)

    async def forum_post(self, guild: Guild | None, forum: Channel, payload: dict[str, Any]) -> web.Response:
        """A forum post: a thread and its first message (same id), with tags of the forum."""
        from tests.emulator.rest_channels import check_message_payload

        assert guild is not None
        self.channels.require(guild, forum, Perm.SEND_MESSAGES)  # "Create Posts"
        check_thread_name(payload.get("name") or "")
        body = payload.get("message")
        if not isinstance(body, dict):
            raise form_error("message", "BASE_TYPE_REQUIRED", "This field is required")
        check_message_payload(body, attachments=0, prefix="message")
        tags = [int(t) for t in payload.get("applied_tags") or []]
        known = {int(t["id"]) for t in forum.available_tags}
        if len(tags) > FORUM_TAG_LIMIT or not set(tags) <= known:
            raise form_error("applied_tags", "BASE_TYPE_BAD_LENGTH", "Unknown tags or more than 5")
        if forum.require_tag and not tags:
            raise e.ApiError(400, TAG_REQUIRED, "A tag is required to create a forum post in this channel")
        thread = guild.add_thread(forum, payload["name"], owner_id=self.emu.bot_user_id)
        thread.applied_tags = tags
        message = self.emu.messages.build(
            channel_id=thread.id,
            author=self.emu.bot_user,
            payload=plain_message(body),
            attachments=[],
            message_id=thread.id,
        )
        await self.emu.publish_thread(thread)
        await self.emu.publish_message(message, now=time.monotonic())
        if self.emu.unanswered_creates > 0:  # the post exists; the bot never hears so
            self.emu.unanswered_creates -= 1
            await self.emu.release_unanswered.wait()
        return json_response({**thread.to_payload(), "message": message}, status=201)

    async def join_thread(self, request: web.Request) -> web.Response:
        self.channels.channel(request)
        return no_content()

    async def active_threads(self, request: web.Request) -> web.Response:
        guild = self.emu.world.guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            raise e.not_found("Guild", e.UNKNOWN_GUILD)
        threads = [c.to_payload() for c in guild.channels.values() if c.is_thread and not c.archived]
        return json_response({"threads": threads, "members": []})


def form_error(field: str, code: str, message: str) -> e.ApiError:
    return e.invalid_form_body({field: {"_errors": [{"code": code, "message": message}]}})


def check_thread_name(name: str) -> None:
    if not 1 <= len(name) <= 100:
        raise form_error("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")


async def check_postable(emu: Emulator, guild: Guild | None, channel: Channel | None) -> None:
    """What Discord refuses before a message is created in ``channel``: a forum takes posts,
    not messages; a locked archived thread needs Manage Threads. An archived thread the bot
    posts in opens again.
    """
    if guild is None or channel is None:
        return
    if channel.type == FORUM:
        raise e.ApiError(400, NOT_TEXT_CHANNEL, "Cannot send messages in a non-text channel")
    if channel.is_thread and channel.archived:
        if channel.locked and missing(guild.permissions_in(channel, emu.bot_user_id), Perm.MANAGE_THREADS):
            raise e.ApiError(400, ARCHIVED_THREAD, "Thread is archived")
        channel.archived = False
        await emu.gateway.dispatch("THREAD_UPDATE", channel.to_payload())


async def archive_thread(emu: Emulator, thread: Channel, *, locked: bool = False) -> None:
    """Archive (and lock) ``thread`` as a moderator would, and tell the bot."""
    thread.archived, thread.locked = True, locked
    await emu.gateway.dispatch("THREAD_UPDATE", thread.to_payload())


async def delete_thread(emu: Emulator, thread: Channel) -> None:
    """Delete ``thread`` and its messages, and tell the bot."""
    guild = emu.world.guilds[thread.guild_id]
    guild.channels.pop(thread.id, None)
    emu.messages.channels.pop(thread.id, None)
    event = {"id": str(thread.id), "guild_id": str(guild.id), "parent_id": str(thread.parent_id)}
    await emu.gateway.dispatch("THREAD_DELETE", {**event, "type": thread.type})
