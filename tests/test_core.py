"""The core's own duties beyond wiring: what happens when the bot leaves a server."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.core import Newsdesk
from tests.feedserver import FeedServer, item


async def test_leaving_a_guild_pauses_its_subscriptions_and_cancels_its_queued_posts(
    db_url: str, tmp_path: Path
) -> None:
    settings = Settings.model_validate(
        {
            "database": {"url": db_url},
            "extract": {"workers": 1},
            "fetch": {"allow_private_networks": True},
            "health": {"heartbeat_file": str(tmp_path / "heartbeat")},
        }
    )
    async with FeedServer() as server, Newsdesk(settings) as core:
        server.add_feed("/a.xml", items=[item(1)])
        server.add_feed("/b.xml", items=[item(2)])
        await core.feeds.subscribe(1, 10, server.url("/a.xml"), user_id=None)
        await core.feeds.subscribe(1, 11, server.url("/b.xml"), user_id=None)
        await core.feeds.subscribe(2, 20, server.url("/a.xml"), user_id=None)
        assert await core.outbox.pending_count(guild_id=1) == 2  # each first post, queued

        assert await core.leave_guild(1) == 2

        assert await core.outbox.pending_count(guild_id=1) == 0
        assert await core.outbox.pending_count(guild_id=2) == 1
        left = await core.feeds.list(1)
        assert len(left) == 2
        assert all(s.paused and s.paused_reason == "the bot was removed from the server" for s in left)
        (other,) = await core.feeds.list(2)
        assert not other.paused
