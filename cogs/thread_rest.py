"""Discord's thread calls, for the thread sender (``cogs/thread_delivery.py``).

A forum post (``POST /channels/{forum}/threads`` with its first message and tags), a thread
opened on a message, a thread's state, a thread's first message, and the guild's active
threads (where a forum post whose answer was lost is found again: forum posts take no nonce).
Discord's errors come out as delivery errors (:func:`cogs.publisher.translate`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import aiohttp
import discord
from discord.http import handle_message_parameters

from bot.delivery.destination import FORUM_TAG_LIMIT, ThreadPlan
from bot.delivery.message import MessageSpec
from cogs.publisher import allowed_mentions, to_embed, translate

#: A thread opened by the bot archives after a day without messages (Discord's default).
AUTO_ARCHIVE_MINUTES: Literal[1440] = 1440
#: "A thread has already been created for this message": the thread is there, done.
THREAD_EXISTS = 160004
#: Channel flag of a forum whose posts must carry a tag.
REQUIRE_TAG_FLAG = 1 << 4
#: Clock skew allowed when looking for a post made after a row was queued.
LOOKUP_SKEW = timedelta(minutes=1)
_NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


@dataclass(frozen=True, slots=True)
class ThreadState:
    name: str
    archived: bool
    locked: bool

    @property
    def closed(self) -> bool:
        """Archived and locked: only moderators open it again, so a story moves on to a new one."""
        return self.archived and self.locked


@dataclass(frozen=True, slots=True)
class ForumTags:
    """The tags the bot may apply in a forum, and whether every post must carry one."""

    available: tuple[tuple[int, str], ...]
    required: bool = False


def match_tags(available: Sequence[tuple[int, str]], wanted: Sequence[str]) -> list[int]:
    """The ids of the forum's tags named like ``wanted`` (case-insensitive, in ``wanted``'s
    order, each once), at most :data:`FORUM_TAG_LIMIT`.
    """
    by_name: dict[str, int] = {}
    for tag_id, name in available:
        by_name.setdefault(" ".join(name.split()).casefold(), tag_id)
    chosen: list[int] = []
    for name in wanted:
        found = by_name.get(" ".join(name.split()).casefold())
        if found is not None and found not in chosen:
            chosen.append(found)
            if len(chosen) == FORUM_TAG_LIMIT:
                break
    return chosen


def choose_tags(forum: ForumTags, wanted: Sequence[str]) -> list[int]:
    """The tags of a post: those matching ``wanted``; in a forum that requires a tag and where
    none matches, its first tag, so the item is posted rather than refused by Discord.
    """
    chosen = match_tags(forum.available, wanted)
    if not chosen and forum.required and forum.available:
        chosen = [forum.available[0][0]]
    return chosen


def shows_data(data: dict[str, Any], spec: MessageSpec) -> bool:
    """:func:`cogs.publisher.shows` for a message as Discord's JSON."""
    embeds = data.get("embeds") or []
    if (data.get("content") or None) != (spec.content or None) or len(embeds) != len(spec.embeds):
        return False
    return all(
        (posted.get("title") or None, posted.get("url") or None) == (wanted.title or None, wanted.url or None)
        for posted, wanted in zip(embeds, spec.embeds, strict=True)
    )


class ThreadCalls:
    """The REST calls, on the bot's client (its cache first where it answers)."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def forum_post(
        self, forum_id: int, spec: MessageSpec, plan: ThreadPlan, tags: Sequence[int]
    ) -> int:
        """A new post in the forum showing ``spec``; its id (the thread's, and its first message's)."""
        channel_payload: dict[str, Any] = {"name": plan.name, "auto_archive_duration": AUTO_ARCHIVE_MINUTES}
        if tags:
            channel_payload["applied_tags"] = [str(t) for t in tags]
        with handle_message_parameters(
            content=spec.content or discord.utils.MISSING,
            embeds=[to_embed(e) for e in spec.embeds],
            allowed_mentions=allowed_mentions(spec),
            channel_payload=channel_payload,
        ) as params:
            try:
                data = await self._client.http.start_thread_in_forum(forum_id, params=params)
            except (discord.HTTPException, *_NETWORK_ERRORS) as e:
                raise translate(e, forum_id) from e
        return int(data["id"])

    async def open_thread(self, channel_id: int, message_id: int, name: str) -> None:
        """A thread on the message (its id is the message's); one already there counts as done."""
        try:
            await self._client.http.start_thread_with_message(
                channel_id, message_id, name=name, auto_archive_duration=AUTO_ARCHIVE_MINUTES
            )
        except discord.HTTPException as e:
            if e.code != THREAD_EXISTS:
                raise translate(e, channel_id) from e
        except _NETWORK_ERRORS as e:
            raise translate(e, channel_id) from e

    async def forum_tags(self, forum_id: int) -> ForumTags:
        """The forum's tags the bot may apply, ``(id, name)``, and whether one is required.
        Moderated tags need Manage Threads.
        """
        forum = self._client.get_channel(forum_id)
        if isinstance(forum, discord.ForumChannel):
            moderate = forum.permissions_for(forum.guild.me).manage_threads
            tags = tuple((t.id, t.name) for t in forum.available_tags if moderate or not t.moderated)
            return ForumTags(tags, required=forum.flags.require_tag)
        data = await self._channel_data(forum_id, forum_id)
        if data is None:
            return ForumTags(())
        # Without the cache the bot's permissions are unknown: moderated tags are left out.
        listed = data.get("available_tags") or []
        tags = tuple((int(t["id"]), str(t["name"])) for t in listed if not t.get("moderated"))
        return ForumTags(tags, required=bool(int(data.get("flags") or 0) & REQUIRE_TAG_FLAG))

    async def thread_state(
        self, thread_id: int, channel_id: int, *, fresh: bool = False
    ) -> ThreadState | None:
        """The thread's name and whether it is archived and locked; None when it is gone."""
        cached = None if fresh else self._client.get_channel(thread_id)
        if isinstance(cached, discord.Thread):
            return ThreadState(cached.name, cached.archived, cached.locked)
        data = await self._channel_data(thread_id, channel_id)
        if data is None:
            return None
        meta = data.get("thread_metadata") or {}
        return ThreadState(str(data.get("name") or ""), bool(meta.get("archived")), bool(meta.get("locked")))

    async def message_data(self, channel_id: int, message_id: int) -> dict[str, Any] | None:
        """A message as Discord's JSON; None when it (or its channel) is gone or unreadable."""
        try:
            return dict(await self._client.http.get_message(channel_id, message_id))
        except (discord.NotFound, discord.Forbidden):
            return None
        except (discord.HTTPException, *_NETWORK_ERRORS) as e:
            raise translate(e, channel_id) from e

    async def find_forum_post(
        self,
        forum_id: int,
        spec: MessageSpec,
        plan: ThreadPlan,
        *,
        since: datetime,
        webhooks: AbstractSet[int] | None = None,
    ) -> int | None:
        """The active post of the forum named ``plan.name``, opened by the bot (or by one of
        ``webhooks``) after ``since`` (less :data:`LOOKUP_SKEW`), whose first message shows ``spec``.
        """
        guild_id = await self._guild_of(forum_id)
        me = self._client.user
        if guild_id is None or me is None:
            return None
        try:
            data = await self._client.http.get_active_threads(guild_id)
        except (discord.HTTPException, *_NETWORK_ERRORS) as e:
            raise translate(e, forum_id) from e
        after = discord.utils.time_snowflake(since - LOOKUP_SKEW)
        for thread in data.get("threads") or []:
            thread_id = int(thread["id"])
            if (
                int(thread.get("parent_id") or 0) != forum_id
                or thread.get("name") != plan.name
                or thread_id <= after
                or not (webhooks is not None or int(thread.get("owner_id") or 0) == me.id)
            ):
                continue
            first = await self.message_data(thread_id, thread_id)
            if first is not None and self.posted_by_bot(first, webhooks=webhooks) and shows_data(first, spec):
                return thread_id
        return None

    def posted_by_bot(self, data: dict[str, Any], *, webhooks: AbstractSet[int] | None = None) -> bool:
        """Whether the bot wrote the message (one of ``webhooks``, when given)."""
        if webhooks is not None:
            return int(data.get("webhook_id") or 0) in webhooks
        me = self._client.user
        return me is not None and int((data.get("author") or {}).get("id") or 0) == me.id

    async def _guild_of(self, channel_id: int) -> int | None:
        cached = self._client.get_channel(channel_id)
        if isinstance(cached, discord.abc.GuildChannel):
            return cached.guild.id
        data = await self._channel_data(channel_id, channel_id)
        return int(data["guild_id"]) if data is not None and data.get("guild_id") else None

    async def _channel_data(self, channel_id: int, held_channel: int) -> dict[str, Any] | None:
        """``GET /channels/{id}``; None for 404. Errors name ``held_channel`` (the row's)."""
        try:
            return dict(await self._client.http.get_channel(channel_id))
        except discord.NotFound:
            return None
        except (discord.HTTPException, *_NETWORK_ERRORS) as e:
            raise translate(e, held_channel) from e
