"""The keyword autocomplete of ``/alerts keywords remove``, end to end: it offers the keywords of
the channel the command is about (its ``channel:`` option, else where it is typed), and nothing
for a channel the member cannot see or that is not this server's.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e import test_permissions
from tests.e2e.harness import Harness
from tests.e2e.test_permissions import Newsroom
from tests.emulator import Member
from tests.emulator.world import Channel
from tests.markdown_view import bold_spans, masked_link_targets, shown

pytestmark = pytest.mark.e2e

# The permissions tests' newsroom (a private channel, a one-channel moderator, ...) and its bot.
room = test_permissions.room
newsdesk = test_permissions.newsdesk


async def offered(newsdesk: Harness, user: Member, channel: Channel | int | None) -> list[str]:
    options: dict[str, Any] = {"keyword": ""}
    if channel is not None:
        options["channel"] = channel
    result = await newsdesk.autocomplete("alerts keywords remove", options, "keyword", user=user)
    assert result.errors == [] and result.choices is not None, result
    return [c["value"] for c in result.choices]


async def test_keyword_autocomplete_follows_the_channel_option_the_member_can_see(
    newsdesk: Harness, room: Newsroom
) -> None:
    admin, manager, secret = newsdesk.admin, newsdesk.manager, room.secret
    for keyword, channel in (("merger", secret), ("earthquake", room.world.general)):
        added = await newsdesk.invoke(
            "alerts keywords add", {"keyword": keyword, "channel": channel}, user=admin
        )
        assert added.errors == [] and "Added" in added.text, added.text

    # Typed in #general: that channel's keywords, or those of the channel picked.
    assert await offered(newsdesk, admin, None) == ["earthquake"]
    assert await offered(newsdesk, admin, secret) == ["merger"]
    # A manager who cannot see #secret is offered nothing for it.
    assert await offered(newsdesk, manager, None) == ["earthquake"]
    assert await offered(newsdesk, manager, secret) == []


async def test_keywords_show_as_written(newsdesk: Harness) -> None:
    """A keyword is a manager's text, shown to every member who lists them: no link of its own."""
    keyword = "[free nitro](https://evil.example/x) **now**"
    added = await newsdesk.invoke("alerts keywords add", {"keyword": keyword}, user=newsdesk.admin)
    assert added.errors == [] and masked_link_targets(added.text) == [], added.text
    listed = await newsdesk.invoke("alerts keywords list", {}, user=newsdesk.member)
    assert masked_link_targets(listed.text) == [] and bold_spans(listed.text) == 0, listed.text
    assert f"“{keyword}”" in shown(listed.text)
