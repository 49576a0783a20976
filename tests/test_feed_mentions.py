"""Role mentions per subscription (bot/feeds/mentions.py), ``/feed test`` and ``backfill``: the
pure decision, its storage on SQLite and PostgreSQL, and the posts a check queues."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.delivery.message import CONTENT_LIMIT, EmbedSpec, MessageSpec
from bot.errors import FilterError, NewsdeskError
from bot.feeds.mentions import (
    RoleFacts,
    mention_flags,
    mention_for,
    mention_post,
    mention_refusal,
    with_mention,
)
from bot.feeds.service import MAX_BACKFILL
from bot.feeds.types import FeedEntry
from bot.storage.feed_records import SubscriptionRecord
from bot.storage.outbox import OutboxMessage
from tests.feedserver import item
from tests.test_feed_poller import GUILD, Rig, posts, rig, titles

__all__ = ["rig"]  # the fixture, imported for these tests

ROLE = 4242


def sub(role: int | None = ROLE, include: tuple[str, ...] | None = None) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=1, feed_id=1, guild_id=GUILD, channel_id=7, created_by=None,
        created_at=datetime(2026, 1, 1, tzinfo=UTC), include=(), exclude=(), extract=False,
        status="active", paused_reason=None, mention_role_id=role, mention_include=include,
    )  # fmt: skip


def entry(title: str, summary: str | None = None) -> FeedEntry:
    return FeedEntry(
        guid=None, link="https://example.org/a", title=title, summary=summary, content_html=None,
        author=None, published=None, updated=None, categories=(), image_url=None, enclosure_url=None,
    )  # fmt: skip


# --- who may set which role ------------------------------------------------------------------


def role(**facts: Any) -> RoleFacts:
    return RoleFacts(id=ROLE, mention=f"<@&{ROLE}>", **facts)


def test_everyone_and_managed_roles_are_refused_even_with_mention_everyone() -> None:
    assert mention_refusal(role(is_default=True, mentionable=True), may_mention_everyone=True)
    assert mention_refusal(role(managed=True, mentionable=True), may_mention_everyone=True)


def test_an_unmentionable_role_needs_mention_everyone() -> None:
    refusal = mention_refusal(role(mentionable=False), may_mention_everyone=False)
    assert refusal is not None and "Mention @everyone" in refusal
    assert mention_refusal(role(mentionable=False), may_mention_everyone=True) is None
    assert mention_refusal(role(mentionable=True), may_mention_everyone=False) is None


# --- which posts ping ------------------------------------------------------------------------


def test_no_role_pings_nobody_and_a_role_without_patterns_pings_on_every_post() -> None:
    assert mention_for(sub(role=None), entry("Anything")) is None
    assert mention_for(sub(), entry("Anything")) == ROLE


def test_patterns_use_the_filter_include_syntax() -> None:
    keyword = sub(include=("launch", "/^breaking:/i"))
    assert mention_for(keyword, entry("Rocket launch today")) == ROLE
    assert mention_for(keyword, entry("BREAKING: news")) == ROLE
    assert mention_for(keyword, entry("Relaunching a brand")) is None  # keywords are whole words
    assert mention_for(keyword, entry("Weather", summary="the launch was delayed")) == ROLE
    assert mention_for(keyword, entry("Weather")) is None
    # An already judged verdict wins (the pipeline judges within its time budget).
    assert mention_for(keyword, entry("Weather"), matched=True) == ROLE
    assert mention_for(keyword, entry("Rocket launch"), matched=False) is None


def test_a_runaway_pattern_counts_as_no_ping() -> None:
    hostile = sub(include=("/(a|aa)+$/",))
    assert mention_for(hostile, entry("a" * 60 + "!")) is None


def test_mention_flags_follow_the_verdicts() -> None:
    assert mention_flags(sub(role=None), None, 2) == [False, False]
    assert mention_flags(sub(), None, 2) == [True, True]
    assert mention_flags(sub(include=("x",)), (True, False), 2) == [True, False]
    assert mention_flags(sub(include=("x",)), None, 2) == [False, False]  # not judged: no ping


def test_with_mention_allows_that_role_alone_and_keeps_the_post() -> None:
    embed = EmbedSpec(title="Story")
    plain = MessageSpec(embeds=(embed,))
    pinging = with_mention(plain, ROLE)
    assert (pinging.content, pinging.allowed_role_ids, pinging.embeds) == (f"<@&{ROLE}>", (ROLE,), (embed,))
    with_text = with_mention(MessageSpec(content="Hello @everyone <@&1>"), ROLE)
    assert with_text.content == f"<@&{ROLE}> Hello @everyone <@&1>"
    assert with_text.allowed_role_ids == (ROLE,)  # the other role and @everyone stay silent
    full = with_mention(MessageSpec(content="x" * CONTENT_LIMIT), ROLE)
    assert full.content is not None and full.content.startswith(f"<@&{ROLE}> ")
    full.validate()  # fitted: cut at the end, never refused
    assert with_mention(plain, None) is plain
    silent = with_mention(plain, ROLE, ping=False)
    assert (silent.content, silent.allowed_role_ids) == (f"<@&{ROLE}>", ())


def test_mention_post_changes_only_the_spec() -> None:
    message = OutboxMessage(7, GUILD, "feed_item", "feed:1:k", MessageSpec(embeds=(EmbedSpec(title="S"),)))
    pinged = mention_post(message, ROLE)
    assert replace(pinged, spec=message.spec) == message
    assert pinged.spec.allowed_role_ids == (ROLE,)
    assert mention_post(message, None) is message


# --- storage and the posts of a check (SQLite and PostgreSQL) --------------------------------


def spec_of(row: Any) -> MessageSpec:
    return MessageSpec.from_dict(row.spec)


async def test_set_mention_is_stored_read_back_and_cleared(rig: Rig) -> None:
    rig.server.add_feed("/a.xml", items=[item(1)])
    added = await rig.service.subscribe(GUILD, 1, rig.server.url("/a.xml"), user_id=None)
    sid = added.subscription.id
    status = await rig.service.set_mention(GUILD, sid, ROLE, [" launch ", "", "/^x/i"])
    assert (status.subscription.mention_role_id, status.subscription.mention_include) == (
        ROLE,
        ("launch", "/^x/i"),
    )
    active = await rig.service.store.active_subscriptions([added.subscription.feed_id])
    (record,) = active[added.subscription.feed_id]
    assert (record.mention_role_id, record.mention_include) == (ROLE, ("launch", "/^x/i"))
    every = await rig.service.set_mention(GUILD, sid, ROLE)
    assert (every.subscription.mention_role_id, every.subscription.mention_include) == (ROLE, None)
    cleared = await rig.service.set_mention(GUILD, sid, None, ["launch"])
    assert (cleared.subscription.mention_role_id, cleared.subscription.mention_include) == (None, None)
    with pytest.raises(FilterError):
        await rig.service.set_mention(GUILD, sid, ROLE, ["/(/"])
    with pytest.raises(NewsdeskError):
        await rig.service.set_mention(GUILD + 1, sid, ROLE)  # another server's subscription


async def test_a_check_pings_the_role_on_matching_posts_only(rig: Rig) -> None:
    feed = rig.server.add_feed("/a.xml", items=[item(1)])
    url = rig.server.url("/a.xml")
    plain = await rig.service.subscribe(GUILD, 1, url, user_id=None)
    every = await rig.service.subscribe(GUILD, 2, url, user_id=None)
    some = await rig.service.subscribe(GUILD, 3, url, user_id=None)
    await rig.service.set_mention(GUILD, every.subscription.id, ROLE)
    await rig.service.set_mention(GUILD, some.subscription.id, ROLE + 1, ["/^launch/i"])
    feed.publish(item(2, title="Launch day"), item(3, title="Weather"))
    await rig.poll()

    def pings(channel: int, rows: list[Any]) -> list[tuple[str | None, tuple[int, ...]]]:
        return [(spec_of(r).content, spec_of(r).allowed_role_ids) for r in rows]

    assert pings(1, (await posts(rig.db, 1))[1:]) == [(None, ()), (None, ())]
    assert pings(2, (await posts(rig.db, 2))[1:]) == [(f"<@&{ROLE}>", (ROLE,))] * 2
    assert pings(3, (await posts(rig.db, 3))[1:]) == [(f"<@&{ROLE + 1}>", (ROLE + 1,)), (None, ())]
    assert titles((await posts(rig.db, 3))[1:]) == ["Launch day", "Weather"]
    assert plain.subscription.id  # the plain subscription's posts are as before


async def test_a_filtered_subscription_pings_only_on_the_posts_it_keeps(rig: Rig) -> None:
    feed = rig.server.add_feed("/a.xml", items=[item(1)])
    added = await rig.service.subscribe(GUILD, 1, rig.server.url("/a.xml"), user_id=None)
    sid = added.subscription.id
    await rig.service.set_filter(GUILD, sid, include=["apple", "banana"], exclude=[])
    await rig.service.set_mention(GUILD, sid, ROLE, ["banana"])
    feed.publish(item(2, title="Apple"), item(3, title="Cherry"), item(4, title="Banana"))
    await rig.poll()
    rows = (await posts(rig.db, 1))[1:]
    assert titles(rows) == ["Apple", "Banana"]
    assert [spec_of(r).allowed_role_ids for r in rows] == [(), (ROLE,)]


async def test_a_runaway_mention_pattern_costs_the_ping_never_the_post(rig: Rig) -> None:
    feed = rig.server.add_feed("/a.xml", items=[item(1)])
    added = await rig.service.subscribe(GUILD, 1, rig.server.url("/a.xml"), user_id=None)
    await rig.service.set_mention(GUILD, added.subscription.id, ROLE, ["/(a|aa)+$/", "/^keep/i"])
    feed.publish(item(2, title="a" * 60 + "!"), item(3, title="Keep this"))
    await rig.poll()
    rows = (await posts(rig.db, 1))[1:]
    assert titles(rows) == ["a" * 60 + "!", "Keep this"]
    assert [spec_of(r).allowed_role_ids for r in rows] == [(), (ROLE,)]


# --- backfill and /feed test -----------------------------------------------------------------


async def test_backfill_posts_the_newest_n_oldest_first(rig: Rig) -> None:
    rig.server.add_feed("/a.xml", items=[item(n) for n in (5, 1, 4, 2, 3)])
    url = rig.server.url("/a.xml")
    added = await rig.service.subscribe(GUILD, 1, url, user_id=None, backfill=3)
    assert added.posted == 3
    assert titles(await posts(rig.db, 1)) == ["Story 3", "Story 4", "Story 5"]
    none = await rig.service.subscribe(GUILD, 2, url, user_id=None, backfill=0)
    assert none.posted == 0 and await posts(rig.db, 2) == []
    default = await rig.service.subscribe(GUILD, 3, url, user_id=None)  # first_post_count: 1
    assert titles(await posts(rig.db, 3)) == ["Story 5"] and default.posted == 1
    for bad in (-1, MAX_BACKFILL + 1):
        with pytest.raises(NewsdeskError):
            await rig.service.subscribe(GUILD, 4, url, user_id=None, backfill=bad)


async def test_feed_test_queues_the_newest_item_without_blocking_its_real_post(rig: Rig) -> None:
    feed = rig.server.add_feed("/a.xml", items=[item(1), item(2)])
    added = await rig.service.subscribe(GUILD, 1, rig.server.url("/a.xml"), user_id=None, backfill=0)
    sid = added.subscription.id
    await rig.service.set_mention(GUILD, sid, ROLE)
    first = await rig.service.test_post(GUILD, sid)
    assert (first.title, first.role_id) == ("Story 2", ROLE)
    rig.clock.advance(1)
    await rig.service.test_post(GUILD, sid)  # a second test is a second post
    rows = await posts(rig.db, 1)
    assert titles(rows) == ["Story 2", "Story 2"]
    assert all(r.dedup_key.startswith(f"feed-test:{sid}:") for r in rows)
    # The role shows as it would, but a test pings nobody.
    assert [(spec_of(r).content, spec_of(r).allowed_role_ids) for r in rows] == [(f"<@&{ROLE}>", ())] * 2
    feed.publish(item(3))
    await rig.poll()
    rows = await posts(rig.db, 1)
    assert titles(rows) == ["Story 2", "Story 2", "Story 3"]
    assert spec_of(rows[-1]).allowed_role_ids == (ROLE,)
    await rig.poll()
    assert len(await posts(rig.db, 1)) == 3  # the real item once


async def test_feed_test_refuses_a_paused_subscription_and_an_empty_feed(rig: Rig) -> None:
    rig.server.add_feed("/empty.xml", items=[])
    empty = await rig.service.subscribe(GUILD, 1, rig.server.url("/empty.xml"), user_id=None)
    with pytest.raises(NewsdeskError, match="no item yet"):
        await rig.service.test_post(GUILD, empty.subscription.id)
    rig.server.add_feed("/a.xml", items=[item(1)])
    added = await rig.service.subscribe(GUILD, 2, rig.server.url("/a.xml"), user_id=None)
    await rig.service.pause_channel(2, "gone")
    with pytest.raises(NewsdeskError, match="paused"):
        await rig.service.test_post(GUILD, added.subscription.id)
