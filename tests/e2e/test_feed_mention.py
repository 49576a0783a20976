"""/feed mention, /feed test and /feed add ... backfill, end to end: the real bot process, the
Discord emulator and a local feed server. A role mention's ``allowed_mentions`` holds exactly
that role; a manager cannot make the bot ping a role they could not ping themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.feed_support import FAST_POLLING, subscribe, titles, wait_until
from tests.e2e.harness import Harness, harness
from tests.emulator import Emulator, InteractionResult, Perm, Role
from tests.emulator.world import DefaultWorld, default_world
from tests.feedserver import FeedServer, item

pytestmark = pytest.mark.e2e


@dataclass
class Room:
    world: DefaultWorld
    watchers: Role
    """Mentionable: anyone may ping it."""
    staff: Role
    """Not mentionable: only members with Mention @everyone (in the channel) may ping it."""


@pytest.fixture
def room() -> Room:
    world = default_world()
    guild = world.guild
    watchers, staff = guild.add_role("launch-watchers"), guild.add_role("staff")
    watchers.mentionable = True
    # In #news nobody but admins may ping an unmentionable role (Discord gives @everyone
    # Mention @everyone by default; #general keeps it).
    guild.set_overwrite(world.news, guild.everyone, deny=Perm.MENTION_EVERYONE)
    return Room(world, watchers, staff)


@pytest.fixture
def bot_config() -> dict[str, dict[str, Any]]:
    return FAST_POLLING


@pytest.fixture
async def newsdesk(
    tmp_path: Path, room: Room, bot_config: dict[str, dict[str, Any]]
) -> AsyncIterator[Harness]:
    async with harness(tmp_path, bot_config, Emulator(world=room.world)) as h:
        yield h


async def subscription_of(newsdesk: Harness, title: str) -> str:
    result = await newsdesk.autocomplete(
        "feed mention", {"subscription": title}, "subscription", user=newsdesk.admin
    )
    found = [c["value"] for c in result.choices or [] if c["name"].startswith(title)]
    assert len(found) == 1, result.choices
    return str(found[0])


def post_bodies(newsdesk: Harness, channel: Any) -> list[dict[str, Any]]:
    """The body of every message the bot posted in ``channel``, in order."""
    return [r.body for r in newsdesk.emu.recorder.calls("POST", f"/channels/{channel.id}/messages") if r.body]


def allowed_roles(body: dict[str, Any]) -> list[str]:
    mentions = body.get("allowed_mentions") or {}
    assert mentions.get("parse") == [], body  # never @everyone, users or every role
    return [str(r) for r in mentions.get("roles") or []]


def answered(result: InteractionResult, says: str) -> None:
    assert result.errors == [] and result.ephemeral, result
    assert says in result.text, result.text


async def test_a_role_pings_on_matching_posts_alone_and_can_be_cleared(
    newsdesk: Harness, room: Room, feeds: FeedServer
) -> None:
    feed = feeds.add_feed("/space.xml", title="Space Wire", items=[item(1)])
    news = room.world.news
    await subscribe(newsdesk, feeds.url("/space.xml"), news)
    await wait_until(lambda: titles(newsdesk, news) == ["Story 1"], what="the newest item")
    sub = await subscription_of(newsdesk, "Space Wire")

    # A manager without Mention @everyone in #news may set a mentionable role.
    saved = await newsdesk.invoke(
        "feed mention",
        {"subscription": sub, "role": room.watchers, "only_matching": "launch, /^orbit/i"},
        user=room.world.manager,
    )
    answered(saved, f"<@&{room.watchers.id}> will be pinged on new posts matching `launch`, `/^orbit/i`")
    assert f"/feed mention subscription:#{sub}" in saved.text  # how to stop

    feed.publish(
        item(2, title="Rocket launch at dawn"),
        item(3, title=f"Weather on the coast <@&{room.staff.id}> @everyone"),
        item(4, title="Orbit reached"),
    )
    await wait_until(lambda: len(titles(newsdesk, news)) == 4, what="three new items")
    bodies = post_bodies(newsdesk, news)[1:]
    assert [b["embeds"][0]["title"] for b in bodies][:1] == ["Rocket launch at dawn"]
    role = str(room.watchers.id)
    assert [allowed_roles(b) for b in bodies] == [[role], [], [role]]
    assert [b.get("content") for b in bodies] == [f"<@&{role}>", None, f"<@&{role}>"]

    listing = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
    assert f"pings <@&{role}> on matches" in listing.text, listing.text

    # No role: pinging stops.
    cleared = await newsdesk.invoke("feed mention", {"subscription": sub}, user=room.world.manager)
    answered(cleared, "no longer ping")
    feed.publish(item(5, title="Another launch"))
    await wait_until(lambda: len(titles(newsdesk, news)) == 5, what="an item after clearing")
    last = post_bodies(newsdesk, news)[-1]
    assert allowed_roles(last) == [] and not last.get("content")


async def test_a_manager_cannot_make_the_bot_ping_a_role_they_could_not(
    newsdesk: Harness, room: Room, feeds: FeedServer
) -> None:
    feed = feeds.add_feed("/space.xml", title="Space Wire", items=[item(1)])
    news, manager = room.world.news, room.world.manager
    await subscribe(newsdesk, feeds.url("/space.xml"), news)
    sub = await subscription_of(newsdesk, "Space Wire")

    refusals = (
        (room.staff, "the role is not mentionable and you need the Mention @everyone permission"),
        (room.world.guild.everyone, "can't mention @everyone"),
        (room.world.bot_role, "kept by an integration"),
    )
    for role, says in refusals:
        answered(
            await newsdesk.invoke("feed mention", {"subscription": sub, "role": role}, user=manager), says
        )
    plain = await newsdesk.invoke(
        "feed mention", {"subscription": sub, "role": room.watchers}, user=room.world.member
    )
    answered(plain, "Manage Channels")
    listing = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
    assert "pings" not in listing.text, listing.text

    # The admin (Mention @everyone) may set the unmentionable role; @everyone stays refused.
    answered(
        await newsdesk.invoke("feed mention", {"subscription": sub, "role": room.staff}, user=newsdesk.admin),
        f"<@&{room.staff.id}> will be pinged on each new post",
    )
    answered(
        await newsdesk.invoke(
            "feed mention", {"subscription": sub, "role": room.world.guild.everyone}, user=newsdesk.admin
        ),
        "can't mention @everyone",
    )
    await wait_until(lambda: titles(newsdesk, news) == ["Story 1"], what="the newest item")
    feed.publish(item(2))
    await wait_until(lambda: len(titles(newsdesk, news)) == 2, what="a new item")
    assert allowed_roles(post_bodies(newsdesk, news)[-1]) == [str(room.staff.id)]


async def test_backfill_posts_the_newest_items_oldest_first(
    newsdesk: Harness, room: Room, feeds: FeedServer
) -> None:
    feeds.add_feed("/space.xml", title="Space Wire", items=[item(n) for n in (5, 4, 1, 3, 2)])
    news = room.world.news
    added = await newsdesk.invoke(
        "feed add", {"url": feeds.url("/space.xml"), "channel": news, "backfill": 3}, user=newsdesk.admin,
        timeout_s=30,
    )  # fmt: skip
    answered(added, "newest 3 items are being posted there now, oldest first")
    await wait_until(lambda: len(titles(newsdesk, news)) >= 3, what="three backfilled items")
    await asyncio.sleep(2)  # more polls: nothing else
    assert titles(newsdesk, news) == ["Story 3", "Story 4", "Story 5"]
    too_many = await newsdesk.invoke(
        "feed add", {"url": feeds.url("/space.xml"), "channel": room.world.general, "backfill": 11},
        user=newsdesk.admin,
    )  # fmt: skip
    answered(too_many, "Backfill is 0 to 10 items.")  # Discord's client checks the range too


async def test_feed_test_posts_the_newest_item_and_the_next_real_item_once(
    newsdesk: Harness, room: Room, feeds: FeedServer
) -> None:
    feed = feeds.add_feed("/space.xml", title="Space Wire", items=[item(1), item(2)])
    news = room.world.news
    await subscribe(newsdesk, feeds.url("/space.xml"), news)
    await wait_until(lambda: titles(newsdesk, news) == ["Story 2"], what="the newest item")
    sub = await subscription_of(newsdesk, "Space Wire")
    answered(
        await newsdesk.invoke(
            "feed mention", {"subscription": sub, "role": room.watchers}, user=newsdesk.admin
        ),
        "will be pinged",
    )

    tested = await newsdesk.invoke("feed test", {"subscription": sub}, user=room.world.manager)
    answered(tested, "Posting **Story 2**")
    assert "pings nobody" in tested.text
    await wait_until(lambda: titles(newsdesk, news) == ["Story 2", "Story 2"], what="the test post")
    test_body = post_bodies(newsdesk, news)[-1]
    assert test_body["content"] == f"<@&{room.watchers.id}>" and allowed_roles(test_body) == []

    feed.publish(item(3))
    await wait_until(lambda: len(titles(newsdesk, news)) >= 3, what="the next real item")
    await asyncio.sleep(2)  # more polls: posted once
    assert titles(newsdesk, news) == ["Story 2", "Story 2", "Story 3"]
    assert allowed_roles(post_bodies(newsdesk, news)[-1]) == [str(room.watchers.id)]
    refused = await newsdesk.invoke("feed test", {"subscription": sub}, user=room.world.member)
    answered(refused, "Manage Channels")
