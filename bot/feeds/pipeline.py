"""Checking a feed, from claim to the transaction that records it: the one feed pipeline.

The poller (:mod:`bot.feeds.poller`) runs it on every due feed, ``/feed add`` and
``/feed import`` (:mod:`bot.feeds.service`) on the feeds they add::

    claim        FeedStore.claim_due           due feeds, leased in batches   (poll_pass.py)
    turn         HostTurns.defer               a feed of a paused or spaced host waits for its
                                               turn (CheckDeferred)              (hosts.py)
    retrieve     Retrievers.retrieve           one GET per feed, conditional on its ETag and
                                               Last-Modified; a 304 or an unchanged body hash
                                               ends here (CheckOk)           (bot.feeds.sources)
    parse        FeedParser.parse              off the event loop, in the parse workers; the
                                               parser by the body's kind (bot.feeds.parse)
    schedule     Schedule.after_success/       next check from caching headers and the feed's
                 after_failure                 hints; failures back off and pause (schedule)
    seen         FeedStore.seen_keys           which entry keys the batch's feeds showed before
    decide       decide_new_items              new items; the first fetch posts only the newest
                                               (bot.feeds.decide, pure)
    extract      Fanout.extract_all            articles for extract:true subscriptions
    filter       Fanout.judge_all              each subscription's filter, within a time budget
    mention      Fanout.judge_mentions         which posts ping the subscription's role (mentions)
    markdown     ready_all                     the posted entries' summary HTML as Markdown, in a
                                               thread (posts; never for every parsed entry)
    build        item_rows, post, notices      rows to remember, posts, notices (outputs, pure);
                 mention_post                  a post's role mention added      (mentions, pure)
    record       FeedStore.record              the whole batch in one transaction: validators,
                                               next checks, items and their posts together
                 FeedStore.subscribe           (adding) new feeds, items, subscriptions, posts

Adding a feed (:meth:`FeedPipeline.fetch_new`, :meth:`FeedPipeline.add`) retrieves without
validators, parses, decides as a first fetch, builds and records; a whole OPML file in one
transaction. A check never raises: a failure is a :class:`CheckFailed` with a ``last_error`` fit to show,
and a bug costs its feed one failure, not the pass. Storage errors while recording are logged:
the feeds are checked again when their lease runs out.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from bot.clock import utcnow
from bot.config import FeedSettings
from bot.errors import FeedError, FetchError, HTTPStatusError, NewsdeskError, StorageError
from bot.feeds.decide import NewItems, decide_new_items
from bot.feeds.destinations import DEFAULT_DELIVERY, PostDelivery
from bot.feeds.fanout import YIELD_EVERY, Extractor, Fanout
from bot.feeds.filters import Judgement
from bot.feeds.mentions import mention_flags, mention_post
from bot.feeds.outputs import filter_notice, item_rows, parsed_feed, pause_notices, post, update_hint_s
from bot.feeds.parser_pool import UNAVAILABLE_RETRY_S, FeedParser, ParserUnavailableError
from bot.feeds.poll_types import Counts, Fetched
from bot.feeds.posts import ready_all
from bot.feeds.schedule import Schedule, should_pause
from bot.feeds.sources import Retrievers, body_hash, retry_after
from bot.feeds.types import Feed, FeedEntry, ParsedFeed
from bot.fetch import FetchResult
from bot.ops import metrics
from bot.storage.feed_records import (
    CheckChanged,
    CheckFailed,
    CheckOk,
    CheckOutcome,
    DueFeed,
    FeedState,
    LimitReached,
    NewFeed,
    Subscribed,
    SubscriptionRecord,
)
from bot.storage.feeds import FeedStore
from bot.storage.outbox import OutboxMessage
from bot.types import Article

log = logging.getLogger(__name__)

#: New items posted from one poll at most (newest kept): a feed that rewrites every guid and
#: link at once must not flood its channels.
MAX_POSTS_PER_POLL = 30
_PARSER_UNAVAILABLE = (
    "The feed reader was not available (its worker processes could not start); checked again soon."
)

Checked = CheckOutcome | Fetched
Subs = Mapping[int, Sequence[SubscriptionRecord]]


class FeedPipeline:
    """Retrieves, parses, decides and records feeds (see the module docstring)."""

    def __init__(
        self,
        store: FeedStore,
        sources: Retrievers,
        parser: FeedParser,
        settings: FeedSettings,
        *,
        extractor: Extractor | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self._clock = clock
        self._sources = sources
        self._parser = parser
        self._settings = settings
        self._schedule = Schedule.from_settings(settings)
        self._fanout = Fanout(extractor)
        self._rng = rng or random.Random()

    # --- checking a claimed feed ----------------------------------------------------------

    async def check(self, feed: DueFeed, now: datetime, counts: Counts) -> Checked:
        """Retrieve ``feed`` (conditionally) and parse it if its body changed."""
        try:
            return await self._check(feed, now, counts)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            # A bug or a broken parser pool must cost this feed a failure, not the pass.
            log.exception("feed=%s unexpected error while checking", feed.url)
            return self.failure(feed, e, now, counts, message="Unexpected error while checking the feed.")

    async def _check(self, feed: DueFeed, now: datetime, counts: Counts) -> Checked:
        try:
            result = await self._sources.retrieve(feed.url, etag=feed.etag, last_modified=feed.last_modified)
        except FetchError as e:
            return self.failure(feed, e, now, counts)
        digest = None if result.not_modified else body_hash(result.body)
        if result.not_modified or digest == feed.body_hash:
            if result.not_modified:
                counts.not_modified += 1
            else:
                counts.unchanged += 1
            metrics.feed_checked("304" if result.not_modified else "unchanged")
            when = self._schedule.after_success(now, result.headers, feed.update_hint_s, self._rng)
            return CheckOk(feed.id, result.etag, result.last_modified, when)
        try:
            parsed, keys = await self._parser.parse(result.body, result.final_url, result.content_type_header)
        except ParserUnavailableError:
            # Not the feed's fault: tried again soon, not counted towards pausing it.
            counts.failed += 1
            metrics.FEED_CHECKS.labels(outcome="parser_unavailable").inc()
            retry_at = now + timedelta(seconds=UNAVAILABLE_RETRY_S)
            return CheckFailed(feed.id, feed.failures, _PARSER_UNAVAILABLE, retry_at)
        except FeedError as e:
            return self.failure(feed, e, now, counts)
        counts.parsed += 1
        metrics.feed_checked("200")
        return Fetched(feed.url, parsed, keys, self._state(result, parsed, digest, now), feed=feed)

    def _state(
        self,
        result: FetchResult,
        parsed: ParsedFeed,
        digest: str | None,
        now: datetime,
        *,
        added: bool = False,
    ) -> FeedState:
        hint = update_hint_s(parsed)
        # A feed being added ignores Retry-After: its first check is the poller's.
        when = self._schedule.after_success(now, result.headers, hint, self._rng, retry_after=not added)
        return FeedState(
            parsed.title, parsed.link, parsed.icon_url, result.etag, result.last_modified, digest, hint, when
        )

    def failure(
        self,
        feed: DueFeed,
        error: BaseException,
        now: datetime,
        counts: Counts,
        *,
        message: str | None = None,
    ) -> CheckFailed:
        """The failed check of ``feed``: backed off, and paused after too many (or a 410)."""
        counts.failed += 1
        metrics.feed_failed(error)
        status = error.status if isinstance(error, HTTPStatusError) else None
        failures = feed.failures + 1
        text = message or (
            str(error) if isinstance(error, NewsdeskError) else "The feed could not be checked."
        )
        when = self._schedule.after_failure(now, failures, retry_after(error), feed.update_hint_s, self._rng)
        log.info("feed=%s check failed (%d in a row): %s", feed.url, failures, text)
        reason = None
        if should_pause(failures, self._schedule.max_failures, status):
            counts.paused += 1
            if status == 410:
                reason = "the site says the feed is gone for good (410 Gone)."
            else:
                reason = f"{failures} checks in a row failed; the last one said: {text}"
            log.warning("feed=%s paused: %s", feed.url, reason)
            counts.sources[feed.id] = Feed(feed.url, feed.title)
        return CheckFailed(feed.id, failures, text, when, pause_reason=reason)

    # --- recording a batch of checks --------------------------------------------------------

    async def record(self, batch: Sequence[Checked], now: datetime, counts: Counts) -> None:
        """Decide, filter, extract and build what ``batch`` (checked at ``now``) writes, and
        write it in one transaction (feed by feed if that fails). Storage errors are logged,
        never raised: what could not be stored is checked again once its lease runs out.
        """
        fetched = [o for o in batch if isinstance(o, Fetched)]
        outcomes: list[CheckOutcome] = [o for o in batch if not isinstance(o, Fetched)]
        pausing = [o for o in outcomes if isinstance(o, CheckFailed) and o.pause_reason]
        try:
            if fetched or pausing:
                ids = [*(f.feed_id for f in fetched), *(o.feed_id for o in pausing)]
                subs = await self.store.active_subscriptions(ids)
                if fetched:
                    outcomes += await self._decide(fetched, subs, now, counts)
                if pausing:
                    outcomes = [_with_notices(o, subs.get(o.feed_id, []), now, counts) for o in outcomes]
        except StorageError as e:
            log.error("could not decide on %d changed feeds: %s", len(fetched), e)
            outcomes = [o for o in outcomes if not isinstance(o, CheckChanged)]
        try:
            await self.store.record(outcomes, now=now)
            return
        except StorageError as e:
            log.error("writing %d feed checks failed (%s); writing them one by one", len(outcomes), e)
        for outcome in outcomes:
            try:
                await self.store.record([outcome], now=now)
            except StorageError as e:
                log.error(
                    "feed_id=%s check could not be stored (retried after its lease): %s", outcome.feed_id, e
                )

    async def _decide(
        self, fetched: Sequence[Fetched], subs: Subs, now: datetime, counts: Counts
    ) -> list[CheckOutcome]:
        # A feed never fetched successfully has nothing remembered yet: no lookup needed.
        seen = await self.store.seen_keys(
            {
                f.feed_id: ([k for k, _ in f.keys], [lk for _, lk in f.keys if lk])
                for f in fetched
                if not f.first_fetch
            }
        )
        nothing: tuple[set[str], set[str]] = (set(), set())
        decisions: list[tuple[Fetched, NewItems]] = []
        for n, f in enumerate(fetched, 1):
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a batch holds hundreds of feeds: let the loop breathe
            seen_keys, seen_links = seen.get(f.feed_id, nothing)
            new = decide_new_items(
                f.parsed.entries, seen_keys=seen_keys, seen_link_keys=seen_links, first_fetch=f.first_fetch,
                first_fetch_count=self._settings.first_post_count, max_posts=MAX_POSTS_PER_POLL, keys=f.keys,
            )  # fmt: skip
            decisions.append((f, new))
        to_post = [(f.feed_id, new.to_post) for f, new in decisions]
        articles = await self._fanout.extract_all(to_post, subs)
        judged = await self._fanout.judge_all(to_post, subs)
        mentioned = await self._fanout.judge_mentions(to_post, subs)
        ready = await ready_all([(f.url, new.to_post) for f, new in decisions if subs.get(f.feed_id)])
        outcomes: list[CheckOutcome] = []
        for n, (f, new) in enumerate(decisions, 1):
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            seen_links = seen.get(f.feed_id, nothing)[1]
            f_subs = subs.get(f.feed_id, [])
            verdicts = (articles, judged, mentioned)
            outcomes.append(_changed(f, new, seen_links, f_subs, verdicts, ready, now, counts))
        return outcomes

    async def article_for(self, sub: SubscriptionRecord, entry: FeedEntry) -> Article | None:
        """The extracted article ``sub`` would post for ``entry`` (``extract:true`` only), as a
        check would extract it; ``None`` without one (``/feed test``).
        """
        if not sub.extract or not entry.link:
            return None
        found = await self._fanout.extract_all([(sub.feed_id, [entry])], {sub.feed_id: [sub]})
        return found.get(entry.link)

    # --- adding feeds ---------------------------------------------------------------------

    async def fetch_new(self, url: str) -> Fetched:
        """Retrieve and parse the feed at ``url`` to add it. Raises :class:`FetchError` and
        :class:`FeedError` (:class:`~bot.errors.NotAFeedError` for a web page).
        """
        result = await self._sources.retrieve(url)
        parsed, keys = await self._parser.parse(result.body, result.final_url, result.content_type_header)
        state = self._state(result, parsed, body_hash(result.body), self._clock(), added=True)
        return Fetched(result.final_url, parsed, keys, state)

    async def add(
        self,
        fetched: Sequence[Fetched],
        *,
        guild_id: int | None,
        channel_id: int,
        user_id: int | None,
        extract: bool,
        post_count: int,
        now: datetime,
        delivery: PostDelivery = DEFAULT_DELIVERY,
    ) -> list[tuple[Subscribed | LimitReached | None, int]]:
        """Subscribe ``channel_id`` to each of ``fetched`` in one transaction: everything each
        shows now is remembered as seen, and its newest ``post_count`` items posted to the
        channel. One answer per feed (see :meth:`FeedStore.subscribe`) with the posts queued.
        """
        new_feeds: list[NewFeed] = []
        posts: dict[str, list[tuple[FeedEntry, str]]] = {}
        for n, f in enumerate(fetched, 1):
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            new = decide_new_items(
                f.parsed.entries, seen_keys=(), seen_link_keys=(), first_fetch=True,
                first_fetch_count=post_count, keys=f.keys,
            )  # fmt: skip
            items, key_of = item_rows(f.parsed.entries, f.keys, new, frozenset())
            new_feeds.append(NewFeed(f.url, f.state, items))
            posts.setdefault(f.url, [(e, key_of[id(e)]) for e in new.to_post])
        ready = await ready_all([(url, [e for e, _ in entries]) for url, entries in posts.items()])
        posts = {url: [(ready.get(id(e), e), key) for e, key in entries] for url, entries in posts.items()}
        sources = {f.url: parsed_feed(f.url, f.parsed) for f in fetched}

        def messages_for(feed: NewFeed, sub: SubscriptionRecord) -> list[OutboxMessage]:
            return [post(sub, entry, sources[feed.url], None, key=key) for entry, key in posts[feed.url]]

        limit = self._settings.max_subscriptions_per_guild
        answers = await self.store.subscribe(
            new_feeds, guild_id=guild_id, channel_id=channel_id, created_by=user_id, extract=extract, now=now,
            max_per_guild=limit if guild_id is not None else None, messages_for=messages_for,
            delivery=delivery,
        )  # fmt: skip
        return [
            (a, len(posts[f.url]) if isinstance(a, Subscribed) else 0)
            for f, a in zip(new_feeds, answers, strict=True)
        ]


def _changed(
    f: Fetched,
    new: NewItems,
    seen_links: set[str],
    subs: Sequence[SubscriptionRecord],
    verdicts: tuple[Mapping[str, Article], Mapping[int, Judgement], Mapping[int, Judgement]],
    ready: Mapping[int, FeedEntry],
    now: datetime,
    counts: Counts,
) -> CheckChanged:
    """What a changed feed writes: its new state, the items it remembers, each channel's posts
    (``verdicts``: the articles by link, the filters' and the mentions' judgements by
    subscription; ``ready``: entries with their Markdown by ``id`` of the parsed entry).
    """
    articles, judged, mentioned = verdicts
    items, key_of = item_rows(f.parsed.entries, f.keys, new, seen_links)
    counts.new_items += len(items)
    metrics.NEW_ITEMS.inc(len(items))
    source = parsed_feed(f.url, f.parsed)
    messages: list[OutboxMessage] = []
    notices: list[OutboxMessage] = []
    for sub in subs:
        judgement = judged.get(sub.id)
        mention_verdicts = mentioned.get(sub.id)
        pings = mention_flags(sub, mention_verdicts.passing if mention_verdicts else None, len(new.to_post))
        passing: Sequence[tuple[FeedEntry, bool]] = list(zip(new.to_post, pings, strict=True))
        if judgement is not None:
            passing = [p for p, ok in zip(passing, judgement.passing, strict=True) if ok]
            if judgement.timed_out or judgement.not_judged:
                notices.append(filter_notice(sub, f.url, judgement, now))
        for entry, ping in passing:
            article = articles.get(entry.link) if sub.extract and entry.link else None
            message = post(sub, ready.get(id(entry), entry), source, article, key=key_of.get(id(entry)))
            messages.append(mention_post(message, sub.mention_role_id if ping else None))
    counts.posts += len(messages)
    return CheckChanged(f.feed_id, f.state, items, (*messages, *notices))


def _with_notices(
    outcome: CheckOutcome, subs: Sequence[SubscriptionRecord], now: datetime, counts: Counts
) -> CheckOutcome:
    if not isinstance(outcome, CheckFailed) or not outcome.pause_reason:
        return outcome
    source = counts.sources.get(outcome.feed_id) or Feed("")
    return dataclasses.replace(outcome, notices=pause_notices(subs, source, outcome.pause_reason, now))
