"""/fetch end to end: the real bot process, the Discord emulator and a loopback page server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.e2e.harness import Harness
from tests.loopback import serve

pytestmark = pytest.mark.e2e

LEAD = (
    "The city council voted on Tuesday to expand the tram network to the northern districts, "
    "a project debated for more than a decade."
)


def paragraphs(count: int) -> list[str]:
    body = [LEAD]
    for i in range(1, count):
        body.append(
            f"Paragraph {i} explains one more aspect of the tram extension in detail, with the costs, "
            f"the timetable and the reactions of residents in district number {i}, who were asked "
            "by reporters what they expected from the new line and how it would change their commute."
        )
    return body


def article_page(count: int, *, title: str = "Council approves tram extension") -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs(count))
    return f"""<!doctype html><html lang="en"><head><title>{title} | City Post</title>
<meta property="og:title" content="{title}"><meta property="og:site_name" content="City Post">
<meta name="author" content="Ana Lopez @everyone">
<meta property="article:published_time" content="2026-11-20T08:00:00+00:00">
<meta property="og:image" content="https://img.example/tram.jpg"></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>{title}</h1>{body}</article><footer>© City Post</footer></body></html>"""


def heavy_page(count: int) -> str:
    body = "".join(
        f"<div class='c{i % 7}'><p>Paragraph {i} of a very long story, with <a href='/x{i}'>a link</a> "
        "and enough words in it to be read as text.</p></div>"
        for i in range(count)
    )
    return f"<html><head><title>Long</title></head><body><article><h1>Long</h1>{body}</article></body></html>"


class Pages:
    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.requested = asyncio.Condition()
        self.app = web.Application()
        self.app.router.add_get("/{name}", self.handle)

    async def wait_for(self, *names: str) -> None:
        """Until each page of ``names`` was asked for."""
        async with self.requested:
            await self.requested.wait_for(lambda: set(names) <= self.hits.keys())

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits[name] = self.hits.get(name, 0) + 1
        async with self.requested:
            self.requested.notify_all()
        if name == "short":
            return web.Response(text=article_page(4), content_type="text/html")
        if name == "medium":  # a few embed pages
            return web.Response(text=article_page(40), content_type="text/html")
        if name == "huge":  # far beyond what embeds can show
            return web.Response(text=article_page(400), content_type="text/html")
        if name == "slow":
            await asyncio.sleep(5)
            return web.Response(text=article_page(4, title="Slow news"), content_type="text/html")
        if name.startswith("heavy"):  # a real page that takes a worker seconds to extract
            return web.Response(text=heavy_page(15_000), content_type="text/html")
        if name == "pdf":
            return web.Response(body=b"%PDF-1.7 ...", content_type="application/pdf")
        raise web.HTTPNotFound()


@pytest.fixture
async def pages() -> AsyncIterator[tuple[Pages, str]]:
    server = Pages()
    async with serve(server.app) as base_url:
        yield server, base_url


def button_ids(message: dict[str, Any]) -> dict[str, str]:
    """Button label → custom_id (link buttons → url)."""
    found: dict[str, str] = {}
    for row in message.get("components") or []:
        for component in row.get("components", []):
            found[component.get("label", "")] = component.get("custom_id") or component.get("url", "")
    return found


def public_messages(newsdesk: Harness) -> list[dict[str, Any]]:
    return [m for m in newsdesk.messages(newsdesk.general) if not (m.get("flags", 0) & 64)]


async def test_fetch_shows_the_article_as_an_embed(newsdesk: Harness, pages: tuple[Pages, str]) -> None:
    _, base = pages
    result = await newsdesk.invoke("fetch", {"url": f"{base}/short"}, timeout_s=30)
    assert result.errors == []
    assert result.ack_ms is not None and result.ack_ms < 3000
    assert result.callback_type == 5  # deferred first, answered after
    assert not result.ephemeral
    embed = result.embeds[0]
    assert embed["title"] == "Council approves tram extension"
    assert embed["url"] == f"{base}/short"
    assert embed["author"]["name"] == "City Post"
    assert embed["image"]["url"] == "https://img.example/tram.jpg"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert "Ana Lopez" in fields["By"]
    assert fields["Reading time"].startswith("1 minute")
    assert embed["description"].startswith("The city council voted")
    assert embed["timestamp"].startswith("2026-11-20T08:00:00")
    assert set(button_ids(result.message)) >= {"Full text", "Open article"}
    # Page text never pings anyone, even with "@everyone" in its byline.
    sends = newsdesk.emu.recorder.calls("POST", "/webhooks/")
    assert sends and all(r.body.get("allowed_mentions") == {"parse": []} for r in sends if r.body)


async def test_full_text_button_sends_a_private_copy(newsdesk: Harness, pages: tuple[Pages, str]) -> None:
    server, base = pages
    result = await newsdesk.invoke("fetch", {"url": f"{base}/short"}, timeout_s=30)
    clicked = await newsdesk.click(result.message, "nd:full", user=newsdesk.admin)
    assert clicked.errors == []
    assert clicked.ephemeral
    assert LEAD in clicked.embeds[0]["description"]
    assert server.hits["short"] == 1  # served from the cache


@pytest.mark.bot_config({"commands": {"button_cooldown_per_s": 0}})  # pages through many clicks
async def test_full_text_pages_with_buttons(newsdesk: Harness, pages: tuple[Pages, str]) -> None:
    _, base = pages
    result = await newsdesk.invoke("fetch", {"url": f"{base}/medium", "full": True}, timeout_s=30)
    assert result.errors == []
    first = result.message
    assert first["embeds"][0]["footer"]["text"].startswith("Page 1 of ")
    total = int(first["embeds"][0]["footer"]["text"].rsplit(" ", 1)[1])
    assert total >= 2
    user = newsdesk.member

    seen = [first["embeds"][0]["description"]]
    message = first
    for page in range(2, total + 1):
        clicked = await newsdesk.click(message, button_ids(message)["Next"], user=user)
        assert clicked.errors == []
        message = newsdesk.emu.messages.get(int(first["channel_id"]), int(first["id"]))
        assert message["embeds"][0]["footer"]["text"] == f"Page {page} of {total}"
        seen.append(message["embeds"][0]["description"])
    # Every paragraph was on some page, in order.
    assert " ".join(seen).split() == " ".join(paragraphs(40)).split()
    last_next = next(
        c for row in message["components"] for c in row["components"] if c.get("label") == "Next"
    )
    assert last_next.get("disabled") is True

    clicked = await newsdesk.click(message, button_ids(message)["Previous"], user=user)
    message = newsdesk.emu.messages.get(int(first["channel_id"]), int(first["id"]))
    assert message["embeds"][0]["footer"]["text"] == f"Page {total - 1} of {total}"

    # Someone else pressing Next gets their own private copy; the shared message stays put.
    other = await newsdesk.click(message, button_ids(message)["Next"], user=newsdesk.admin)
    assert other.ephemeral and other.embeds[0]["footer"]["text"] == f"Page {total} of {total}"
    unchanged = newsdesk.emu.messages.get(int(first["channel_id"]), int(first["id"]))
    assert unchanged["embeds"][0]["footer"]["text"] == f"Page {total - 1} of {total}"


async def test_article_beyond_discord_limits(newsdesk: Harness, pages: tuple[Pages, str]) -> None:
    _, base = pages
    summary = await newsdesk.invoke("fetch", {"url": f"{base}/huge"}, timeout_s=30)
    assert summary.errors == []
    assert len(summary.embeds[0]["description"]) <= 4096
    full = await newsdesk.invoke("fetch", {"url": f"{base}/huge", "full": True}, timeout_s=30)
    assert full.errors == []  # the emulator answers 50035 to anything over Discord's limits
    assert len(full.attachments) == 1
    assert full.attachments[0]["filename"].endswith(".md")


@pytest.mark.bot_config({"fetch": {"allow_private_networks": False}})
async def test_blocked_address_is_refused_privately(newsdesk: Harness, pages: tuple[Pages, str]) -> None:
    server, base = pages
    result = await newsdesk.invoke("fetch", {"url": f"{base}/short"}, timeout_s=30)
    assert result.ephemeral
    assert "not allowed" in result.text.lower() or "private" in result.text.lower(), result.text
    assert server.hits == {}
    assert public_messages(newsdesk) == []


async def test_slow_page_is_acknowledged_in_time(newsdesk: Harness, pages: tuple[Pages, str]) -> None:
    _, base = pages
    result = await newsdesk.invoke("fetch", {"url": f"{base}/slow"}, timeout_s=40)
    assert result.errors == []
    assert result.ack_ms is not None and result.ack_ms < 3000
    assert result.embeds[0]["title"] == "Slow news"


@pytest.mark.parametrize(("name", "expected"), [("missing", "404"), ("pdf", "pdf")])
async def test_fetch_errors_are_short_private_and_specific(
    newsdesk: Harness, pages: tuple[Pages, str], name: str, expected: str
) -> None:
    _, base = pages
    result = await newsdesk.invoke("fetch", {"url": f"{base}/{name}"}, timeout_s=30)
    assert result.errors == []
    assert result.ephemeral, result
    assert expected in result.text.lower(), result.text
    assert len(result.text) < 300
    # The public "thinking…" placeholder did not stay behind.
    assert public_messages(newsdesk) == []


@pytest.mark.bot_config({"commands": {"fetch_cooldown_rate": 1, "fetch_cooldown_per_s": 60}})
async def test_cooldown_per_member(newsdesk: Harness, pages: tuple[Pages, str]) -> None:
    _, base = pages
    first = await newsdesk.invoke("fetch", {"url": f"{base}/short"}, timeout_s=30)
    assert not first.ephemeral
    second = await newsdesk.invoke("fetch", {"url": f"{base}/short"}, timeout_s=30)
    assert second.ephemeral and "try again" in second.text.lower()
    other = await newsdesk.invoke("fetch", {"url": f"{base}/short"}, user=newsdesk.admin, timeout_s=30)
    assert not other.ephemeral


async def test_page_naming_another_site_as_canonical_does_not_speak_for_it(
    newsdesk: Harness, pages: tuple[Pages, str]
) -> None:
    """A page on one host claiming (rel=canonical) to be an article of another site is shown
    as what it is, and /fetch of the claimed article anywhere still gets the real one."""
    server, base = pages
    claimed = f"{base}/short"
    hostile = web.Application()
    fake = article_page(4, title="Fake: the council resigns").replace(
        "</title>", f'</title><link rel="canonical" href="{claimed}">'
    )

    async def serve_fake(_: web.Request) -> web.Response:
        return web.Response(text=fake, content_type="text/html")

    hostile.router.add_get("/fake", serve_fake)
    async with serve(hostile, "127.0.0.2") as hostile_base:
        shown = await newsdesk.invoke("fetch", {"url": f"{hostile_base}/fake"}, timeout_s=30)
        assert shown.errors == []
        assert shown.embeds[0]["title"] == "Fake: the council resigns"
        assert shown.embeds[0]["url"] == f"{hostile_base}/fake"
        assert button_ids(shown.message)["Open article"] == f"{hostile_base}/fake"

        real = await newsdesk.invoke("fetch", {"url": f"{claimed}?utm_source=x"}, timeout_s=30)
    assert real.errors == []
    assert real.embeds[0]["title"] == "Council approves tram extension"
    assert real.embeds[0]["url"] == claimed
    assert server.hits["short"] == 1


@pytest.mark.bot_config({"extract": {"workers": 1, "max_queue": 1, "timeout_s": 120}})
async def test_fetch_beyond_the_extraction_queue_is_told_to_try_again(
    newsdesk: Harness, pages: tuple[Pages, str]
) -> None:
    server, base = pages
    # One page takes the only worker, the next fills the queue (one place).
    heavy = [
        asyncio.create_task(newsdesk.invoke("fetch", {"url": f"{base}/heavy{i}"}, user=user, timeout_s=120))
        for i, user in enumerate((newsdesk.admin, newsdesk.manager))
    ]
    await asyncio.wait_for(server.wait_for("heavy0", "heavy1"), 30)
    await asyncio.sleep(0.3)  # both pages read and handed to the extractor

    busy = await newsdesk.invoke("fetch", {"url": f"{base}/short"}, timeout_s=30)
    assert busy.errors == []
    assert busy.ephemeral
    assert "try again in a moment" in busy.text, busy.text
    assert not any(task.done() for task in heavy)  # it did not wait for them

    for result in await asyncio.gather(*heavy):
        assert not result.ephemeral and result.embeds[0]["title"] == "Long"
    again = await newsdesk.invoke("fetch", {"url": f"{base}/short"}, timeout_s=30)
    assert not again.ephemeral
    assert again.embeds[0]["title"] == "Council approves tram extension"


@pytest.mark.bot_config(
    {"commands": {"button_cooldown_rate": 2, "button_cooldown_per_s": 60}, "cache": {"article_ttl_s": 0}}
)
async def test_article_buttons_have_a_cooldown_per_member(
    newsdesk: Harness, pages: tuple[Pages, str]
) -> None:
    """Without the cache every press fetches and extracts the page again: beyond the limit a
    member is told privately how long to wait, and nothing is fetched."""
    server, base = pages
    summary = await newsdesk.invoke("fetch", {"url": f"{base}/short"}, timeout_s=30)
    full = await newsdesk.invoke("fetch", {"url": f"{base}/medium", "full": True}, timeout_s=30)
    assert not summary.ephemeral and not full.ephemeral
    user = newsdesk.member

    for _ in range(2):
        clicked = await newsdesk.click(summary.message, "nd:full", user=user)
        assert clicked.ephemeral and LEAD in clicked.embeds[0]["description"]
    assert server.hits["short"] == 3

    next_page = button_ids(full.message)["Next"]
    for message, custom_id in ((summary.message, "nd:full"), (full.message, next_page)):
        refused = await newsdesk.click(message, custom_id, user=user)
        assert refused.errors == []
        assert refused.ephemeral
        assert "try again in" in refused.text.lower(), refused.text
        assert 50 <= int(re.search(r"(\d+) s", refused.text)[1]) <= 60  # how long to wait
    assert server.hits == {"short": 3, "medium": 1}  # nothing fetched for the refused presses
    page = newsdesk.emu.messages.get(int(full.message["channel_id"]), int(full.message["id"]))
    assert page["embeds"][0]["footer"]["text"].startswith("Page 1 of ")

    # Per member: someone else's presses are still served.
    other = await newsdesk.click(summary.message, "nd:full", user=newsdesk.admin)
    assert other.ephemeral and LEAD in other.embeds[0]["description"]
    assert server.hits["short"] == 4
