"""/newsdesk status end to end: the real bot process, the Discord emulator and a local feed server.
A manager gets the server's feeds (healthy, failing with the error, paused), its posts, digests
and alerts, privately, with the chart attached as a PNG; a feed of a channel the manager cannot
see is neither listed nor counted, and a plain member is refused.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from bot.status.chart import FILENAME, HEIGHT, WIDTH
from tests.e2e.feed_support import FAST_POLLING, subscribe, titles, wait_until
from tests.e2e.harness import Harness, harness
from tests.emulator import Emulator, InteractionResult, Perm
from tests.emulator.world import Channel, DefaultWorld, default_world
from tests.feedserver import FeedServer, item

pytestmark = pytest.mark.e2e


@pytest.fixture
def world() -> DefaultWorld:
    """The default server with #secret: hidden from @everyone (the manager), seen by the bot."""
    world = default_world()
    secret = world.guild.add_text_channel("secret")
    world.guild.set_overwrite(secret, world.guild.everyone, deny=Perm.VIEW_CHANNEL)
    world.guild.set_overwrite(secret, world.bot_role, allow=Perm.VIEW_CHANNEL)
    return world


@pytest.fixture
async def newsdesk(tmp_path: Path, world: DefaultWorld) -> AsyncIterator[Harness]:
    async with harness(tmp_path, FAST_POLLING, Emulator(world=world)) as h:
        yield h


def secret_of(world: DefaultWorld) -> Channel:
    (secret,) = [c for c in world.guild.channels.values() if c.name == "secret"]
    return secret


async def status(newsdesk: Harness, user: Any) -> InteractionResult:
    result = await newsdesk.invoke("newsdesk status", {}, user=user, channel=newsdesk.general, timeout_s=30)
    assert result.errors == [] and result.ephemeral, result
    return result


async def png(result: InteractionResult) -> Image.Image:
    (attachment,) = result.attachments
    assert attachment["filename"] == FILENAME
    async with aiohttp.ClientSession() as session, session.get(attachment["url"]) as response:
        data = await response.read()
    Image.open(io.BytesIO(data)).verify()
    return Image.open(io.BytesIO(data))


async def test_status_shows_the_servers_news_with_a_chart_and_hides_private_channels(
    newsdesk: Harness, world: DefaultWorld, feeds: FeedServer
) -> None:
    secret, news = secret_of(world), world.news
    feeds.add_feed("/wire.xml", title="Wire **bold** @everyone", items=[item(1)])
    feeds.add_feed("/broken.xml", title="Broken Bulletin", items=[item(1)])
    feeds.add_feed("/secret.xml", title="Secret Desk", items=[item(1)])
    for path, channel in (("/wire.xml", news), ("/broken.xml", news), ("/secret.xml", secret)):
        await subscribe(newsdesk, feeds.url(path), channel)
    await wait_until(lambda: len(titles(newsdesk, news)) == 2 and len(titles(newsdesk, secret)) == 1,
                     what="the first posts")  # fmt: skip
    digest = {"frequency": "daily", "time": "08:00", "channel": news}
    for command, options in (
        ("digest schedule", digest),
        ("alerts breaking", {"state": "on", "channel": news}),
    ):
        answer = await newsdesk.invoke(command, options, user=newsdesk.admin)
        assert answer.errors == [] and "<#" in answer.text, answer.text
    feeds.fail("/broken.xml", 500)

    seen = await status(newsdesk, newsdesk.manager)
    for _ in range(40):  # until the bot has checked the broken feed again
        if "Failing (1)" in seen.text:
            break
        await asyncio.sleep(0.5)
        seen = await status(newsdesk, newsdesk.manager)
    assert "Failing (1)" in seen.text, seen.text

    (embed,) = seen.embeds
    assert embed["title"] == "News in this server"
    assert "**2 feeds**: 1 healthy · 1 failing · 0 paused" in embed["description"]
    assert "**2 posts** in the last 24 hours" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert "Broken Bulletin" in fields["⚠️ Failing (1)"] and "500" in fields["⚠️ Failing (1)"]
    # The feed's title is escaped: no bold, no ping.
    assert "Wire \\*\\*bold\\*\\* @\u200beveryone" in fields["✅ Healthy (1)"]
    assert f"<#{news.id}>: next <t:" in fields["🗞️ Digests (1)"]
    assert f"<#{news.id}>: breaking news when 3+ outlets" in fields["🚨 Alerts (1 channels)"]
    assert "version " in fields["🤖 newsdesk"] and " · up " in fields["🤖 newsdesk"]
    assert embed["image"]["url"] == f"attachment://{FILENAME}"
    assert "channels you can see" in embed["footer"]["text"]
    # #secret's feed and post are neither listed nor counted for the manager.
    assert "Secret Desk" not in seen.text and str(secret.id) not in seen.text
    chart = await png(seen)
    assert (chart.format, chart.size) == ("PNG", (WIDTH, HEIGHT))

    everything = await status(newsdesk, newsdesk.admin)
    (embed,) = everything.embeds
    assert "**3 feeds**: 2 healthy · 1 failing · 0 paused" in embed["description"]
    assert "**3 posts** in the last 24 hours" in embed["description"]
    assert "Secret Desk" in everything.text and (await png(everything)).size == (WIDTH, HEIGHT)


async def test_a_plain_member_is_refused(newsdesk: Harness) -> None:
    # Discord shows /newsdesk to every member (a manager may lack Manage Server); the check refuses.
    registered = newsdesk.emu.commands()["newsdesk"]
    assert registered["default_member_permissions"] is None
    assert "status" in [option["name"] for option in registered["options"]]
    refused = await status(newsdesk, newsdesk.member)
    assert "You need the Manage Channels permission (server-wide)" in refused.text, refused.text
    assert refused.attachments == [] and refused.embeds == []
