"""Entity bombs in EBCDIC, UTF-7 and UTF-16/32, and one declared in a comment, through
``/feed add`` of the real bot: each is refused with a reply that says why, and nothing is
followed. (tests/test_feed_bombs.py covers every form of each, the poller, and memory.)"""

from __future__ import annotations

import pytest

from tests.e2e.harness import Harness
from tests.feedserver import FeedServer
from tests.test_feed_bombs import bombs

pytestmark = pytest.mark.e2e

# One of each kind, as served: the whole document in the encoding.
PICKED = {
    "cp037-whole",
    "cp424-declared",
    "utf-7-declared",
    "utf-16-declared",
    "utf-32-be-bare",
    "utf-8-in-a-comment",
}


async def test_feed_add_refuses_bombs_in_any_encoding_and_says_why(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    picked = [b for b in bombs(200_000) if b.name in PICKED]
    assert len(picked) == len(PICKED)
    for bomb in picked:
        feeds.serve_raw(f"/{bomb.name}.xml", bomb.body, bomb.content_type)
        result = await newsdesk.invoke(
            "feed add", {"url": feeds.url(f"/{bomb.name}.xml")}, user=newsdesk.admin, timeout_s=20
        )
        assert result.ephemeral and result.errors == []
        assert bomb.error in result.text, (bomb.name, result.text)
    listing = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
    assert "No feeds yet" in listing.text
