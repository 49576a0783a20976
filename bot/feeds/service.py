"""The feed service: what ``/feed`` commands call. Discord-free: the CLI and tests use it too.

It finds feeds (:meth:`FeedService.resolve`, :mod:`bot.feeds.finder`), subscribes channels
with a preview and without a flood (:meth:`FeedService.subscribe`, through the feed pipeline,
:mod:`bot.feeds.pipeline`), and manages subscriptions (list, filter, resume, remove, OPML
import/export: an import checks many feeds at once and adds them in one transaction).
Polling is :class:`bot.feeds.poller.FeedPoller`'s job.

Errors raised for the user are :class:`~bot.errors.FeedError` subclasses (and
:class:`~bot.errors.FetchError` ones from fetching), each with a message fit to show.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime

from bot.clock import utcnow
from bot.config import FeedSettings
from bot.delivery.message import MessageSpec
from bot.discord_text import fit
from bot.errors import (
    AlreadySubscribedError,
    FeedParseError,
    NewsdeskError,
    NotAFeedError,
    SubscriptionLimitError,
    SubscriptionNotFoundError,
)
from bot.feeds.destinations import DEFAULT_DELIVERY, PostDelivery
from bot.feeds.filters import EntryFilter, filter_executor
from bot.feeds.finder import FeedCandidates, FeedFinder, candidate
from bot.feeds.mentions import mention_for, mention_post
from bot.feeds.opml import OpmlFeed, parse_opml, write_opml
from bot.feeds.outputs import post
from bot.feeds.parser_pool import FeedParser, InThreadParser
from bot.feeds.pipeline import FeedPipeline
from bot.feeds.poll_types import Fetched
from bot.feeds.posts import feed_item_message
from bot.feeds.results import ImportReport, SubscribeResult, TestPost
from bot.feeds.sources import Retrievers
from bot.fetch import Fetcher
from bot.storage.feed_records import LimitReached, Subscribed, SubscriptionStatus
from bot.storage.feeds import FeedStore
from bot.templates import Template
from bot.templates.preview import entry_from_item

log = logging.getLogger(__name__)

#: Most items ``/feed add ... backfill`` posts at once.
MAX_BACKFILL = 10

Progress = Callable[[int, int], Awaitable[None]]


class FeedService:
    """Feed subscriptions of guilds and channels, over a :class:`FeedStore` and a :class:`Fetcher`."""

    def __init__(
        self,
        store: FeedStore,
        fetcher: Fetcher,
        settings: FeedSettings,
        *,
        parser: FeedParser | None = None,
        clock: Callable[[], datetime] = utcnow,
        pipeline: FeedPipeline | None = None,
    ) -> None:
        """``pipeline`` is the one the poller uses too (the core builds one for both); without
        one, a pipeline over ``store``, ``fetcher`` and ``parser`` is built.
        """
        self._store = store
        self._fetcher = fetcher
        self._settings = settings
        self._parser = parser or InThreadParser()
        self._clock = clock
        self._pipeline = pipeline or FeedPipeline(
            self._store, Retrievers.http(fetcher), self._parser, settings, clock=clock
        )
        self._finder = FeedFinder(fetcher, self._pipeline, self._parser)

    async def resolve(self, url: str) -> FeedCandidates:
        """The feed at ``url``, or the feeds of the web page at ``url`` (see
        :meth:`bot.feeds.finder.FeedFinder.resolve`).
        """
        return await self._finder.resolve(url)

    @property
    def store(self) -> FeedStore:
        """The repository (for the poller's owner, status views and tests)."""
        return self._store

    # --- subscribing -----------------------------------------------------------------------

    async def subscribe(
        self,
        guild_id: int | None,
        channel_id: int,
        feed_url: str,
        *,
        user_id: int | None,
        extract: bool = False,
        backfill: int | None = None,
        delivery: PostDelivery = DEFAULT_DELIVERY,
    ) -> SubscribeResult:
        """Subscribe ``channel_id`` to the feed at ``feed_url`` (a feed, not a page: see
        :meth:`resolve`), fetching it once to validate it.

        The newest ``backfill`` items (0 to :data:`MAX_BACKFILL`; ``None``: ``first_post_count``)
        are queued for the channel, oldest first, and the rest remembered as seen, so adding a
        feed does not flood. Raises :class:`AlreadySubscribedError`,
        :class:`SubscriptionLimitError` (``max_subscriptions_per_guild``), :class:`FeedError`
        for a page or an unreadable feed, and :class:`FetchError` when it cannot be fetched.
        ``delivery``: how its posts go out from the first (``forum=True`` for a forum channel).
        """
        if backfill is not None and not 0 <= backfill <= MAX_BACKFILL:
            raise NewsdeskError(f"Backfill is 0 to {MAX_BACKFILL} items.")
        post_count = self._settings.first_post_count if backfill is None else backfill
        await self._check_room(guild_id)
        if await self._store.find_subscription(feed_url, channel_id) is not None:
            raise AlreadySubscribedError(_already_message(feed_url))
        fetched = await self._fetch_to_add(feed_url)
        ((answer, posted),) = await self._pipeline.add(
            [fetched], guild_id=guild_id, channel_id=channel_id, user_id=user_id, extract=extract,
            post_count=post_count, now=self._clock(), delivery=delivery,
        )  # fmt: skip
        if isinstance(answer, LimitReached):
            raise SubscriptionLimitError(_limit_message(answer.limit))
        if answer is None:
            raise AlreadySubscribedError(_already_message(fetched.url))
        log.info("guild=%s channel=%s subscribed to feed=%s", guild_id, channel_id, fetched.url)
        return SubscribeResult(
            subscription=answer.subscription,
            feed=candidate(fetched.url, fetched.parsed),
            posted=posted,
            new_feed=answer.created,
        )

    async def _check_room(self, guild_id: int | None) -> None:
        """Refuse early (before fetching) when the guild has no subscription left."""
        limit = self._settings.max_subscriptions_per_guild
        if guild_id is not None and await self._store.count_subscriptions(guild_id) >= limit:
            raise SubscriptionLimitError(_limit_message(limit))

    async def _fetch_to_add(self, feed_url: str) -> Fetched:
        """The feed at ``feed_url``, fetched and parsed, with errors worded for ``/feed add``."""
        try:
            return await self._pipeline.fetch_new(feed_url)
        except NotAFeedError as e:
            raise NotAFeedError(
                f"{feed_url} is a web page, not a feed: add the site's feed, or let /feed add find it."
            ) from e
        except FeedParseError as e:
            raise FeedParseError(f"{feed_url} is not a readable feed: {e}") from e

    # --- managing ------------------------------------------------------------------------------

    async def remove(self, guild_id: int | None, subscription_id: int) -> bool:
        """Delete a subscription of ``guild_id``; ``False`` when it has no such subscription."""
        return await self._store.remove_subscription(guild_id, subscription_id)

    async def list(
        self,
        guild_id: int | None,
        channel_id: int | None = None,
        *,
        channel_ids: Collection[int] | None = None,
    ) -> list[SubscriptionStatus]:
        """The guild's subscriptions (one channel's when given; only those in ``channel_ids``
        when given) with each feed's health.
        """
        return await self._store.list_subscriptions(guild_id, channel_id=channel_id, channel_ids=channel_ids)

    async def get(self, guild_id: int | None, subscription_id: int) -> SubscriptionStatus | None:
        """One subscription of the guild with its feed's health, or ``None``."""
        return await self._store.get_subscription(guild_id, subscription_id)

    async def set_filter(
        self, guild_id: int | None, subscription_id: int, include: Sequence[str], exclude: Sequence[str]
    ) -> SubscriptionStatus:
        """Replace a subscription's include/exclude patterns (keywords or ``/regex/flags``).

        Raises :class:`~bot.errors.FilterError` for a bad pattern and
        :class:`SubscriptionNotFoundError`.
        """
        include = [p.strip() for p in include if p.strip()]
        exclude = [p.strip() for p in exclude if p.strip()]
        EntryFilter(include, exclude)  # validates; raises FilterError
        if not await self._store.set_filters(guild_id, subscription_id, include, exclude):
            raise SubscriptionNotFoundError(_not_found_message(subscription_id))
        return await self._status(guild_id, subscription_id)

    async def set_template(
        self, guild_id: int | None, subscription_id: int, template: Template | None
    ) -> SubscriptionStatus:
        """Set a subscription's post template (made by :func:`bot.templates.make_template`, so
        checked), or clear it with ``None``. Raises :class:`SubscriptionNotFoundError`.
        """
        stored = template.to_json() if template is not None else None
        if not await self._store.set_template(guild_id, subscription_id, stored):
            raise SubscriptionNotFoundError(_not_found_message(subscription_id))
        return await self._status(guild_id, subscription_id)

    async def preview_template(
        self, guild_id: int | None, subscription_id: int, template: Template | None
    ) -> MessageSpec:
        """The subscription's newest remembered item laid out by ``template``; nothing saved.
        Raises :class:`SubscriptionNotFoundError`, and :class:`NewsdeskError` for a feed with no item.
        """
        status = await self._status(guild_id, subscription_id)
        item = await self._store.newest_item(status.subscription.feed_id)
        if item is None:
            raise NewsdeskError("This feed has no item yet to preview; try again after its next check.")
        return feed_item_message(entry_from_item(item), status.feed, template=template)

    async def set_mention(
        self,
        guild_id: int | None,
        subscription_id: int,
        role_id: int | None,
        include: Sequence[str] = (),
    ) -> SubscriptionStatus:
        """Ping ``role_id`` on each new post of the subscription, or only on those matching
        ``include`` (the include syntax of :meth:`set_filter`); ``role_id=None`` stops pinging.
        Who may ping which role is the caller's check (:func:`bot.feeds.mentions.mention_refusal`).

        Raises :class:`~bot.errors.FilterError` for a bad pattern and
        :class:`SubscriptionNotFoundError`.
        """
        patterns = [p.strip() for p in include if p.strip()]
        EntryFilter(patterns)  # validates; raises FilterError
        if not await self._store.set_mention(guild_id, subscription_id, role_id, patterns or None):
            raise SubscriptionNotFoundError(_not_found_message(subscription_id))
        return await self._status(guild_id, subscription_id)

    async def set_delivery(
        self, guild_id: int | None, subscription_id: int, change: Callable[[PostDelivery], PostDelivery]
    ) -> SubscriptionStatus:
        """Apply ``change`` to how the subscription's posts are delivered (webhook, threads; see
        :mod:`bot.feeds.destinations`, whose ``with_*`` functions validate). Raises
        :class:`SubscriptionNotFoundError` and what ``change`` raises.
        """
        current = await self._status(guild_id, subscription_id)
        delivery = change(current.subscription.delivery)
        if not await self._store.set_delivery(guild_id, subscription_id, delivery):
            raise SubscriptionNotFoundError(_not_found_message(subscription_id))
        return await self._status(guild_id, subscription_id)

    async def test_post(self, guild_id: int | None, subscription_id: int) -> TestPost:
        """Queue the subscription's newest remembered item for its channel now, as its posts
        look (template, server default, ``extract``), through the outbox like every post.

        A test is not an item's post: its dedup key is its own (``feed-test:...``), so the real
        post of any item (this one included, if still to come) is neither blocked nor counted,
        and nothing is remembered as seen. It never pings: the role mention, when the item would
        ping, shows in the post but ``allowed_role_ids`` stays empty. Raises
        :class:`SubscriptionNotFoundError`, and :class:`NewsdeskError` for a paused subscription
        or a feed with no item yet.
        """
        status = await self._status(guild_id, subscription_id)
        if status.paused:
            raise NewsdeskError("This subscription is paused: resume it with `/feed resume` first.")
        feed_id = status.subscription.feed_id
        # Read as the poller reads it, with the server's default template.
        active = (await self._store.active_subscriptions([feed_id])).get(feed_id, [])
        sub = next((s for s in active if s.id == subscription_id), None)
        item = await self._store.newest_item(feed_id)
        if sub is None or item is None:
            raise NewsdeskError("This feed has no item yet to post; try again after its next check.")
        entry = entry_from_item(item)
        article = await self._pipeline.article_for(sub, entry)
        loop = asyncio.get_running_loop()
        role_id = await loop.run_in_executor(filter_executor(), mention_for, sub, entry)
        now = self._clock()
        message = post(sub, entry, status.feed, article, key=item.entry_key)
        message = replace(
            mention_post(message, role_id, ping=False),
            dedup_key=f"feed-test:{sub.id}:{now.isoformat()}",
        )
        await self._store.queue_posts([message], now=now)
        log.info("guild=%s subscription=%s test post queued", guild_id, subscription_id)
        return TestPost(status=status, title=item.title, url=item.url, role_id=role_id)

    async def resume(self, guild_id: int | None, subscription_id: int) -> SubscriptionStatus:
        """Resume a subscription and its feed if paused: failures forgotten, checked soon.
        Raises :class:`SubscriptionNotFoundError`.
        """
        if not await self._store.resume(guild_id, subscription_id, now=self._clock()):
            raise SubscriptionNotFoundError(_not_found_message(subscription_id))
        return await self._status(guild_id, subscription_id)

    async def pause_channel(self, channel_id: int, reason: str) -> int:
        """Pause every subscription of a channel the bot can no longer post to; how many.
        Called by delivery when Discord answers 403/404 for the channel.
        """
        count = await self._store.pause_channel(channel_id, reason)
        if count:
            log.warning("channel=%s: %d subscriptions paused: %s", channel_id, count, reason)
        return count

    async def autocomplete(
        self, guild_id: int | None, query: str, limit: int = 25, *, channel_ids: Collection[int] | None = None
    ) -> builtins.list[tuple[str, str]]:  # builtins: the method list above shadows the type here
        """``(name, value)`` choices for a subscription option: the guild's subscriptions (in
        ``channel_ids`` when given) whose feed title or URL contains ``query``; the value is the
        subscription id.
        """
        found = await self._store.list_subscriptions(
            guild_id, channel_ids=channel_ids, query=query.strip() or None, limit=limit
        )
        return [(_choice_name(s), str(s.subscription.id)) for s in found]

    async def _status(self, guild_id: int | None, subscription_id: int) -> SubscriptionStatus:
        status = await self._store.get_subscription(guild_id, subscription_id)
        if status is None:  # removed in between
            raise SubscriptionNotFoundError(_not_found_message(subscription_id))
        return status

    # --- OPML ---------------------------------------------------------------------------------

    async def import_opml(
        self,
        guild_id: int | None,
        channel_id: int,
        data: bytes,
        *,
        user_id: int | None,
        progress: Progress | None = None,
    ) -> ImportReport:
        """Subscribe ``channel_id`` to every feed of an OPML file, each validated by fetching.

        Bad entries are reported and good ones kept. Imported feeds post nothing now (an import
        of 100 feeds must not post 100 messages); their new items come with the next polls.
        ``progress(done, total)`` is awaited after each feed. Raises
        :class:`~bot.errors.OpmlError` only when the file cannot be read at all.
        """
        # Up to a megabyte of XML and thousands of outlines: parsed off the event loop.
        opml = await asyncio.to_thread(parse_opml, data)
        answers: list[str | Fetched | None] = [None] * len(opml.feeds)  # error, feed, or skipped
        try:
            await self._check_room(guild_id)
        except SubscriptionLimitError as e:
            answers = [str(e)] * len(opml.feeds)
        else:
            answers = await self._fetch_all(opml.feeds, channel_id, progress)
        fetched = [a for a in answers if isinstance(a, Fetched)]
        # One transaction adds them all; the guild limit is checked again inside it.
        added_as = await self._pipeline.add(
            fetched, guild_id=guild_id, channel_id=channel_id, user_id=user_id, extract=False,
            post_count=0, now=self._clock(),
        )  # fmt: skip
        stored = iter(added_as)
        added: list[str] = []
        skipped: list[str] = []
        errors: list[str] = list(opml.errors)
        for feed, checked in zip(opml.feeds, answers, strict=True):
            answer: str | Subscribed | None = None if isinstance(checked, Fetched) else checked
            if isinstance(checked, Fetched):
                result, _ = next(stored)
                answer = _limit_message(result.limit) if isinstance(result, LimitReached) else result
            if isinstance(answer, Subscribed):
                added.append(feed.url)
            elif isinstance(answer, str):
                errors.append(f"{feed.title or feed.url} ({feed.url}): {answer}")
            else:
                skipped.append(feed.url)
        return ImportReport(added=tuple(added), skipped=tuple(skipped), errors=tuple(errors))

    async def _fetch_all(
        self, feeds: Sequence[OpmlFeed], channel_id: int, progress: Progress | None
    ) -> builtins.list[str | Fetched | None]:
        """Each of ``feeds`` fetched and parsed, an error message, or ``None`` when the channel
        follows it already; ``progress(done, total)`` awaited after each.
        """
        followed = await self._store.followed_urls(channel_id, [f.url for f in feeds])
        answers: list[str | Fetched | None] = [None] * len(feeds)
        semaphore = asyncio.Semaphore(self._settings.poll_concurrency)
        done = 0

        async def one(n: int, feed: OpmlFeed) -> None:
            nonlocal done
            if feed.url not in followed:
                async with semaphore:
                    try:
                        answers[n] = await self._fetch_to_add(feed.url)
                    except NewsdeskError as e:
                        answers[n] = str(e)
            done += 1
            if progress is not None:
                await progress(done, len(feeds))

        await asyncio.gather(*(one(n, feed) for n, feed in enumerate(feeds)))
        return answers

    async def export_opml(
        self,
        guild_id: int | None,
        channel_id: int | None = None,
        *,
        channel_ids: Collection[int] | None = None,
    ) -> bytes:
        """An OPML 2.0 file of the guild's feeds (one channel's when given; only those in
        ``channel_ids`` when given), each once.
        """
        seen: set[str] = set()
        feeds: list[OpmlFeed] = []
        for status in await self.list(guild_id, channel_id, channel_ids=channel_ids):
            if status.feed.url not in seen:
                seen.add(status.feed.url)
                feeds.append(OpmlFeed(url=status.feed.url, title=status.feed.title))
        return write_opml(feeds, title="newsdesk feeds")


def _choice_name(status: SubscriptionStatus) -> str:
    title = status.feed.title or status.feed.url
    name = f"{title} · {status.feed.url}" if status.feed.title else title
    # Discord: choice names are 1-100 characters.
    return fit(name, 100)


def _limit_message(limit: int) -> str:
    return f"This server already has {limit} feed subscriptions, the most allowed. Remove one first."


def _already_message(url: str) -> str:
    return f"This channel already follows {url}."


def _not_found_message(subscription_id: int) -> str:
    return f"There is no subscription #{subscription_id} in this server."
