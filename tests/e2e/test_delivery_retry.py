"""A post Discord refuses for a moment (a 503, which discord.py does not retry itself) is retried
by the outbox dispatcher: it goes out, and the bot logs the retry, not an error with a traceback."""

from __future__ import annotations

import pytest

from tests import logcheck
from tests.e2e.feed_support import FAST_POLLING, subscribe, titles, wait_until
from tests.e2e.harness import Harness
from tests.feedserver import FeedServer, item

pytestmark = pytest.mark.e2e


@pytest.mark.bot_config(FAST_POLLING)
async def test_a_post_refused_with_a_503_is_retried_and_logs_no_error(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    feed = feeds.add_feed("/news.xml", title="Busy", items=[item(1)])
    news = newsdesk.emu.default.news
    newsdesk.inject(f"POST /channels/{news.id}/messages", 503, count=1)
    await subscribe(newsdesk, feeds.url("/news.xml"), news)
    await wait_until(lambda: titles(newsdesk, news) == ["Story 1"], timeout_s=30, what="the retried post")
    feed.publish(item(2))  # the channel goes on after the retry
    await wait_until(lambda: len(titles(newsdesk, news)) >= 2, timeout_s=30, what="the next story")
    assert titles(newsdesk, news) == ["Story 1", "Story 2"]
    posts = newsdesk.emu.recorder.calls("POST", f"/channels/{news.id}/messages")
    assert [r.status for r in posts][:1] == [503]
    log = newsdesk.log_path.read_text(encoding="utf-8")
    assert "attempt 1 failed, retrying in 2.0s: TransientDeliveryError: Discord answered 503" in log
    # Before the fix the retry ended the channel's worker with "ERROR ... delivery stopped".
    assert logcheck.process_errors() == []
