"""Threads: a forum post, or a thread opened on the message, per item; a story's later outlets
in its thread.

A row whose destination has a :class:`~bot.delivery.destination.ThreadPlan` comes here from
:class:`cogs.publisher.DiscordPublisher`:

- in a forum, a post named after the item with the forum's tags matching its categories;
- in a text channel, the message (the bot's, or the webhook's: ``publisher.post_message``),
  then a thread opened on it. A crash between the two leaves the message alone: the resend
  (same nonce) gets the same message back and opens the thread then; "already has a thread"
  (160004) counts as done.
- with story threads (``plan.story_item``), the item's story is read from the story grouping;
  when the channel has a thread for that story (``story_threads``), the message goes into it
  instead of a new post. Otherwise a thread is opened as above and recorded for the story. A
  recorded thread that is gone (deleted, or archived and locked) is replaced by a new one.

The story assigner groups items a moment after they are stored (it is woken by the poller), so
a story post waits up to :data:`STORY_WAIT_S` for its fresh item to get a story. An item still
without one then (the assigner is down, or far behind) opens a thread of its own, recorded for
no story: the next outlet of its story whose story is known opens the story's thread, and the
ones after it join that. When the grouper merges two stories, the surviving story's thread
(if any) is the one later outlets join.

Forum posts take no nonce: before a row is sent again the dispatcher calls :meth:`find_posted`,
which looks for the post among the guild's active threads (and in the story's thread).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol, TypeVar

import discord

from bot.clock import utcnow
from bot.delivery.destination import Destination, ThreadPlan, WebhookIdentity
from bot.delivery.errors import ChannelUnavailableError, MessageRejectedError, TransientDeliveryError
from bot.delivery.message import MessageSpec
from bot.errors import NewsdeskError, StorageError
from bot.feeds.destinations import DEFAULT_DELIVERY, PostDelivery
from bot.storage import Database
from bot.storage.story_threads import StoryThreadStore
from cogs.checks import target_channel
from cogs.thread_rest import ThreadCalls, choose_tags, shows_data

if TYPE_CHECKING:
    from cogs.publisher import DiscordPublisher

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How long a story post waits for the story assigner to group its fresh item.
STORY_WAIT_S = 5.0
STORY_POLL_S = 0.25
#: Only an item first seen this recently is waited for (an older one is not grouped any sooner).
STORY_WAIT_WINDOW = timedelta(minutes=2)


class WebhookExecute(Protocol):
    """``WebhookSender.execute`` (cogs/webhook_delivery.py): a webhook post into a forum or a thread."""

    async def __call__(
        self,
        channel_id: int,
        spec: MessageSpec,
        identity: WebhookIdentity,
        *,
        thread_id: int | None = None,
        thread_name: str | None = None,
        applied_tags: tuple[int, ...] = (),
    ) -> int: ...


#: What the bot needs in a forum: Send Messages is "Create Posts" there.
FORUM_POSTABLE = discord.Permissions(
    view_channel=True, send_messages=True, send_messages_in_threads=True, embed_links=True
)


def forum_target(interaction: discord.Interaction, forum: discord.ForumChannel) -> discord.ForumChannel:
    """``forum`` as ``/feed add``'s channel: refused unless the member sees it and the bot may
    create posts with embeds there; the error names what is missing.
    """
    guild, member = interaction.guild, interaction.user
    if guild is None or not isinstance(member, discord.Member) or forum.guild.id != guild.id:
        raise NewsdeskError("Pick a text or forum channel of this server.")
    if not forum.permissions_for(member).view_channel:
        raise NewsdeskError(f"You can't see {forum.mention}: you need the View Channel permission there.")
    granted = forum.permissions_for(guild.me)
    missing = [name for name, value in FORUM_POSTABLE if value and not getattr(granted, name)]
    if "send_messages" in missing:  # discord.py clears Embed Links without it
        missing = [m for m in missing if m != "embed_links"]
    if missing:
        needed = ", ".join(
            "Send Messages (Create Posts)" if m == "send_messages" else m.replace("_", " ").title()
            for m in missing
        )
        raise NewsdeskError(f"I can't post in {forum.mention}: I need {needed} there.")
    return forum


def postable_target(
    interaction: discord.Interaction, channel: discord.TextChannel | discord.ForumChannel | None
) -> discord.TextChannel | discord.Thread | discord.ForumChannel:
    """``/feed add``'s channel (default: where it was used), checked as :func:`forum_target` or
    :func:`cogs.checks.target_channel` check it.
    """
    if isinstance(channel, discord.ForumChannel):
        return forum_target(interaction, channel)
    return target_channel(interaction, channel, bot_posts=True)


def delivery_for_channel(guild: discord.Guild | None, channel_id: int) -> PostDelivery:
    """How a new subscription in ``channel_id`` posts: a forum post per item in a forum."""
    channel = guild.get_channel(channel_id) if guild is not None else None
    return PostDelivery(forum=True) if isinstance(channel, discord.ForumChannel) else DEFAULT_DELIVERY


class ThreadSender:
    """Sends the rows whose destination opens a thread; see the module docstring."""

    def __init__(self, client: discord.Client, db: Database, publisher: DiscordPublisher) -> None:
        self._client = client
        self._db = db
        self._publisher = publisher
        self._calls = ThreadCalls(client)
        self._stories = StoryThreadStore(db)

    async def send(self, channel_id: int, spec: MessageSpec, *, nonce: str, destination: Destination) -> int:
        plan = _plan(destination)
        story = await self._story(plan, wait=True)
        if story is not None:
            thread_id = await self._stored(self._stories.thread_for(channel_id, story))
            if thread_id is not None:
                posted = await self._into_story_thread(channel_id, thread_id, spec, nonce, destination)
                if posted is not None:
                    return posted
                log.info(
                    "channel=%s story=%s: its thread %s is gone; opening another",
                    channel_id,
                    story,
                    thread_id,
                )
        message_id = await self._open(channel_id, spec, nonce=nonce, destination=destination)
        if story is not None:
            await self._stored(self._stories.record(channel_id, story, message_id, now=utcnow()))
        return message_id

    async def find_posted(
        self, channel_id: int, spec: MessageSpec, *, since: datetime, destination: Destination
    ) -> int | None:
        """The message an earlier attempt at the row made (a forum post, a message with its
        thread, or a message in the story's thread), or None. A message found without its
        thread gets it now.
        """
        plan = _plan(destination)
        story = await self._story(plan, wait=False)
        if story is not None:
            thread_id = await self._stored(self._stories.thread_for(channel_id, story))
            if thread_id is not None:
                found = await self._find_message(channel_id, spec, since, destination, location_id=thread_id)
                if found is not None:
                    return found
        if plan.forum:
            webhooks = await self._webhook_ids(channel_id, destination)
            found = await self._calls.find_forum_post(channel_id, spec, plan, since=since, webhooks=webhooks)
        else:
            found = await self._find_message(channel_id, spec, since, destination)
            if found is not None:
                await self._calls.open_thread(channel_id, found, plan.name)
        if found is not None and story is not None:
            await self._stored(self._stories.record(channel_id, story, found, now=utcnow()))
        return found

    # --- a new thread -------------------------------------------------------------------

    async def _open(self, channel_id: int, spec: MessageSpec, *, nonce: str, destination: Destination) -> int:
        """A forum post, or the message and a thread on it; the id of both."""
        plan = _plan(destination)
        if plan.forum:
            tags = choose_tags(await self._calls.forum_tags(channel_id), plan.tags)
            execute = self._webhook_execute(destination)
            if execute is not None and destination.webhook is not None:
                return await execute(
                    channel_id, spec, destination.webhook, thread_name=plan.name, applied_tags=tuple(tags)
                )
            return await self._calls.forum_post(channel_id, spec, plan, tags)
        message_id = await self._publisher.post_message(
            channel_id, spec, nonce=nonce, destination=destination
        )
        await self._calls.open_thread(channel_id, message_id, plan.name)
        return message_id

    # --- a story's thread ---------------------------------------------------------------

    async def _into_story_thread(
        self, channel_id: int, thread_id: int, spec: MessageSpec, nonce: str, destination: Destination
    ) -> int | None:
        """The message posted in the story's thread; None when the thread is gone."""
        plan = _plan(destination)
        state = await self._calls.thread_state(thread_id, channel_id)
        if state is None or state.closed:
            return None
        if state.name == plan.name and await self._opened_thread(channel_id, thread_id, spec, destination):
            return thread_id  # this row opened it (and recorded it) before a crash
        try:
            return await self._post_in_thread(channel_id, thread_id, spec, nonce, destination)
        except (ChannelUnavailableError, MessageRejectedError):
            state = await self._calls.thread_state(thread_id, channel_id, fresh=True)
            if state is None or state.closed:  # deleted or closed since
                return None
            raise

    async def _opened_thread(
        self, channel_id: int, thread_id: int, spec: MessageSpec, destination: Destination
    ) -> bool:
        """Whether the thread's first message shows ``spec`` (the row's own thread)."""
        where = thread_id if _plan(destination).forum else channel_id
        first = await self._calls.message_data(where, thread_id)
        if first is None or not shows_data(first, spec):
            return False
        return self._calls.posted_by_bot(first, webhooks=await self._webhook_ids(channel_id, destination))

    async def _post_in_thread(
        self, channel_id: int, thread_id: int, spec: MessageSpec, nonce: str, destination: Destination
    ) -> int:
        execute = self._webhook_execute(destination)
        if execute is not None and destination.webhook is not None:
            return await execute(channel_id, spec, destination.webhook, thread_id=thread_id)
        return await self._publisher.post_message(thread_id, spec, nonce=nonce)

    async def _find_message(
        self,
        channel_id: int,
        spec: MessageSpec,
        since: datetime,
        destination: Destination,
        *,
        location_id: int | None = None,
    ) -> int | None:
        """The row's message in ``channel_id`` (or its thread ``location_id``), by the bot or,
        for a webhook row, by the channel's webhook.
        """
        if destination.webhook is None:
            return await self._publisher.find_own_message(location_id or channel_id, spec, since=since)
        find_in = getattr(self._publisher.webhooks, "find_in", None)
        return (
            None if find_in is None else await find_in(channel_id, spec, since=since, location_id=location_id)
        )

    async def _webhook_ids(self, channel_id: int, destination: Destination) -> set[int] | None:
        """For a webhook row, the ids of the channel's webhooks of the bot (their posts are
        the row's); None for the bot's own posts.
        """
        if destination.webhook is None:
            return None
        webhook_ids = getattr(self._publisher.webhooks, "webhook_ids", None)
        return set() if webhook_ids is None else set(await webhook_ids(channel_id))

    def _webhook_execute(self, destination: Destination) -> WebhookExecute | None:
        """The webhook sender's ``execute`` for a webhook row (posts into forums and threads)."""
        if destination.webhook is None:
            return None
        return getattr(self._publisher.webhooks, "execute", None)

    # --- stories ------------------------------------------------------------------------

    async def _story(self, plan: ThreadPlan, *, wait: bool) -> str | None:
        """The story of the plan's item; with ``wait``, a fresh item's story is waited for
        (:data:`STORY_WAIT_S`). None: no story threads, or no story (yet).
        """
        if plan.story_item is None:
            return None
        feed_part, _, item_key = plan.story_item.partition(":")
        if not feed_part.isdigit():
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STORY_WAIT_S
        while True:
            item = await self._stored(self._stories.item_story(int(feed_part), item_key))
            if item is None or item.story_id is not None or not wait:
                return None if item is None else item.story_id
            if utcnow() - item.first_seen_at > STORY_WAIT_WINDOW or loop.time() >= deadline:
                return None
            await asyncio.sleep(STORY_POLL_S)

    @staticmethod
    async def _stored(operation: Awaitable[T]) -> T:
        """A storage call; its failure is a delivery error to retry, not a bug."""
        try:
            return await operation
        except StorageError as e:
            raise TransientDeliveryError(f"story threads unavailable: {e}") from e


def _plan(destination: Destination) -> ThreadPlan:
    if destination.thread is None:  # the publisher sends only thread rows here
        raise MessageRejectedError("not a thread destination")
    return destination.thread
