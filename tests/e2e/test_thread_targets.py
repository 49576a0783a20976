"""Commands used in a thread, end to end: in a thread the bot posts with Send Messages in
Threads (its parent's Send Messages does not count), so that is what is checked and named.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.feed_support import FAST_POLLING, titles, wait_until
from tests.e2e.harness import Harness, harness
from tests.emulator import Emulator, Perm
from tests.emulator.world import Channel, DefaultWorld, default_world
from tests.feedserver import FeedServer, item

pytestmark = pytest.mark.e2e


@pytest.fixture
def bot_config() -> dict[str, dict[str, Any]]:
    return FAST_POLLING


@pytest.fixture
def world() -> DefaultWorld:
    world = default_world()
    guild = world.guild
    # #news is read-only for the bot except in its threads; #general's threads are closed to it.
    guild.set_overwrite(world.news, world.bot_role, deny=Perm.SEND_MESSAGES)
    guild.set_overwrite(world.general, world.bot_role, deny=Perm.SEND_MESSAGES_IN_THREADS)
    for parent, name in ((world.news, "discussion"), (world.general, "chat")):
        guild.add_thread(parent, name, owner_id=world.admin.user.id)
    return world


@pytest.fixture
async def newsdesk(
    tmp_path: Path, world: DefaultWorld, bot_config: dict[str, dict[str, Any]]
) -> AsyncIterator[Harness]:
    async with harness(tmp_path, bot_config, Emulator(world=world)) as h:
        yield h


def thread(world: DefaultWorld, name: str) -> Channel:
    return next(c for c in world.guild.channels.values() if c.name == name)


async def test_a_thread_needs_send_messages_in_threads_not_the_parents_send_messages(
    newsdesk: Harness, world: DefaultWorld, feeds: FeedServer
) -> None:
    open_thread, closed_thread = thread(world, "discussion"), thread(world, "chat")
    feeds.add_feed("/wire.xml", title="Wire", items=[item(1)])

    added = await newsdesk.invoke(
        "feed add", {"url": feeds.url("/wire.xml")}, user=newsdesk.admin, channel=open_thread, timeout_s=30
    )
    assert added.errors == [] and "now follows" in added.text, added.text
    await wait_until(lambda: titles(newsdesk, open_thread) == ["Story 1"], what="the post in the thread")

    refused = await newsdesk.invoke(
        "feed add", {"url": feeds.url("/wire.xml")}, user=newsdesk.admin, channel=closed_thread
    )
    assert refused.ephemeral and "I need Send Messages In Threads there" in refused.text, refused.text
