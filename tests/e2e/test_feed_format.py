"""/feed format set|preview|clear and /newsdesk format, end to end: the real bot process, the
Discord emulator and a local feed server. A template is previewed privately, saved and used by
the next post; a bad one is refused with nothing saved; the server default applies to
subscriptions without their own.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e import feed_support
from tests.e2e.feed_support import FAST_POLLING, wait_until
from tests.e2e.harness import Harness
from tests.feedserver import FeedServer, item

pytestmark = pytest.mark.e2e


@pytest.fixture
def bot_config() -> dict[str, dict[str, Any]]:
    return FAST_POLLING


def posts(newsdesk: Harness, channel: Any) -> list[dict[str, Any]]:
    return newsdesk.messages(channel)


def embed_titles(newsdesk: Harness, channel: Any) -> list[str]:
    return [m["embeds"][0].get("title") for m in posts(newsdesk, channel) if m.get("embeds")]


async def subscription_value(newsdesk: Harness, command: str, title: str) -> str:
    result = await newsdesk.autocomplete(
        command, {"subscription": title}, "subscription", user=newsdesk.admin
    )
    assert result.errors == [] and result.choices, result
    (found,) = [c for c in result.choices if c["name"].startswith(title)]
    return str(found["value"])


async def test_format_is_previewed_saved_used_and_cleared(newsdesk: Harness, feeds: FeedServer) -> None:
    feed = feeds.add_feed("/city.xml", title="City Post", items=[item(1)])
    news = newsdesk.emu.default.news
    added = await feed_support.subscribe(newsdesk, feeds.url("/city.xml"), news)
    assert "now follows" in added.text, added.text
    await wait_until(lambda: embed_titles(newsdesk, news) == ["Story 1"], what="the first post")
    sub = await subscription_value(newsdesk, "feed format set", "City Post")
    template = {"preset": "compact", "content": "NEW: {title} <{link}> @everyone {{braces}}"}

    # Preview: the newest item in the new format, privately; nothing posted, nothing saved.
    preview = await newsdesk.invoke(
        "feed format preview", {"subscription": sub, **template}, user=newsdesk.admin
    )
    assert preview.errors == [] and preview.ephemeral, preview
    assert "NEW: Story 1 <https://example.org/story/1> @everyone {braces}" in preview.text, preview.text
    assert "nothing is saved" in preview.text
    assert len(posts(newsdesk, news)) == 1

    # A bad template: a clear private error naming the problem, nothing saved.
    for bad, says in (
        ({"title": "{titel}"}, "unknown placeholder `{titel}`"),
        ({"content": "{title"}, "never closed"),
    ):
        refused = await newsdesk.invoke("feed format set", {"subscription": sub, **bad}, user=newsdesk.admin)
        assert refused.errors == [] and refused.ephemeral
        assert says in refused.text and "Format saved" not in refused.text, refused.text
    # A member may not change it.
    denied = await newsdesk.invoke("feed format set", {"subscription": sub, **template}, user=newsdesk.member)
    assert denied.ephemeral and "Format saved" not in denied.text, denied.text

    feed.publish(item(2))
    await wait_until(lambda: embed_titles(newsdesk, news) == ["Story 1", "Story 2"], what="a post as before")

    saved = await newsdesk.invoke("feed format set", {"subscription": sub, **template}, user=newsdesk.admin)
    assert saved.errors == [] and saved.ephemeral and "Format saved" in saved.text, saved.text
    feed.publish(item(3, title="Mayor @everyone **resigns**"))
    await wait_until(lambda: len(posts(newsdesk, news)) == 3, what="the post in the saved format")
    post = posts(newsdesk, news)[-1]
    # The feed's text is escaped and cannot ping; the manager's own text stays as written.
    assert post["content"] == (
        "NEW: Mayor @\u200beveryone \\*\\*resigns\\*\\* <https://example.org/story/3> @everyone {braces}"
    ), post
    assert post.get("embeds") in (None, [])
    assert post.get("mention_everyone") in (None, False)

    # Cleared: the server default applies (set here), then the built-in full embed again.
    server = await newsdesk.invoke(
        "newsdesk format", {"preset": "headline", "title": "{source} | {title}"}, user=newsdesk.admin
    )
    assert server.errors == [] and "Server default format saved" in server.text, server.text
    cleared = await newsdesk.invoke("feed format clear", {"subscription": sub}, user=newsdesk.admin)
    assert "Format cleared" in cleared.text, cleared.text
    feed.publish(item(4))
    await wait_until(lambda: len(posts(newsdesk, news)) == 4, what="the post in the server's format")
    assert embed_titles(newsdesk, news)[-1] == "City Post | Story 4"
    assert "description" not in posts(newsdesk, news)[-1]["embeds"][0]

    bad_default = await newsdesk.invoke("newsdesk format", {"color": "blue"}, user=newsdesk.admin)
    assert "#RRGGBB" in bad_default.text and "saved" not in bad_default.text, bad_default.text
    reset = await newsdesk.invoke("newsdesk format", {"preset": "default"}, user=newsdesk.admin)
    assert "cleared" in reset.text, reset.text
    feed.publish(item(5))
    await wait_until(lambda: len(posts(newsdesk, news)) == 5, what="a full post again")
    last = posts(newsdesk, news)[-1]["embeds"][0]
    assert (last["title"], last["description"]) == ("Story 5", "Summary of story 5.")
