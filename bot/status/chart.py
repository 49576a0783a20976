"""The chart of ``/newsdesk status``: posts per hour over the last day, and feeds by state.

Two bar charts side by side on one PNG of a fixed size, drawn with Pillow (a few milliseconds,
on a thread: :func:`chart_png`). Nothing in the input changes the work done but the digits of a
count, so the cost is bounded whatever the server.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 800, 300
FILENAME = "status.png"

_BACKGROUND = (43, 45, 49)  # Discord's dark theme, where most members read it
_TEXT = (219, 222, 225)
_MUTED = (148, 155, 164)
_GRID = (63, 65, 71)
_POSTS = (88, 101, 242)
_STATES = (("healthy", (35, 165, 90)), ("failing", (240, 178, 50)), ("paused", (128, 132, 142)))
_TOP, _BOTTOM = 44, 40  # room for the title above, the labels below
_SPLIT = 560  # the posts chart left of it, the feeds chart right of it


@dataclass(frozen=True, slots=True)
class ChartData:
    """What the chart shows."""

    #: Posts sent per hour, oldest first; the last bar is the hour up to now.
    hourly: Sequence[int]
    healthy: int
    failing: int
    paused: int


def render_chart(data: ChartData) -> bytes:
    """The chart as PNG bytes (``WIDTH`` x ``HEIGHT``). Blocking: call it through :func:`chart_png`."""
    image = Image.new("RGB", (WIDTH, HEIGHT), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    _posts_chart(draw, list(data.hourly), (16, _SPLIT - 24))
    states = [data.healthy, data.failing, data.paused]
    _feeds_chart(draw, states, (_SPLIT + 16, WIDTH - 16))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()


async def chart_png(data: ChartData) -> bytes:
    """:func:`render_chart` on a thread, so the event loop keeps answering meanwhile."""
    return await asyncio.to_thread(render_chart, data)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's own font (no system fonts needed); a bitmap font where FreeType is missing.
    return ImageFont.load_default(size=size)


def short_count(value: int) -> str:
    """``1234`` → ``1.2k``: a bar's label stays a few characters wide."""
    if value < 1000:
        return str(max(value, 0))
    for size, unit in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if value >= size:
            scaled = value / size
            return f"{scaled:.1f}{unit}" if scaled < 10 else f"{min(int(scaled), 999)}{unit}"
    return str(value)  # pragma: no cover - the loop always returns


def _posts_chart(draw: ImageDraw.ImageDraw, hourly: list[int], span: tuple[int, int]) -> None:
    left, right = span
    total = sum(max(v, 0) for v in hourly)
    draw.text((left, 12), f"Posts per hour, last 24 hours ({short_count(total)} in all)", _TEXT, _font(16))
    bottom, top = HEIGHT - _BOTTOM, _TOP + 18
    peak = max([*hourly, 0])
    axis = 36  # the peak's label left of the bars
    draw.line([(left + axis, top), (right, top)], _GRID)
    draw.line([(left + axis, bottom), (right, bottom)], _GRID)
    draw.text((left, top - 7), short_count(peak), _MUTED, _font(12))
    draw.text((left, bottom - 7), "0", _MUTED, _font(12))
    slot = (right - left - axis) / max(len(hourly), 1)
    for index, value in enumerate(hourly):
        x0 = left + axis + index * slot + 2
        height = 0 if peak <= 0 else (bottom - top) * max(value, 0) / peak
        if height > 0:
            draw.rectangle([x0, bottom - max(height, 1), x0 + slot - 4, bottom], fill=_POSTS)
    labels = (("24 h ago", 0), ("12 h ago", len(hourly) // 2), ("now", len(hourly) - 1))
    for text, index in labels:
        x = left + axis + index * slot + slot / 2
        draw.text((x, bottom + 8), text, _MUTED, _font(12), anchor="ma")


def _feeds_chart(draw: ImageDraw.ImageDraw, counts: list[int], span: tuple[int, int]) -> None:
    left, right = span
    draw.text((left, 12), f"Feeds by state ({short_count(sum(counts))})", _TEXT, _font(16))
    bottom, top = HEIGHT - _BOTTOM, _TOP + 18
    draw.line([(left, bottom), (right, bottom)], _GRID)
    peak = max([*counts, 0])
    slot = (right - left) / len(_STATES)
    for index, ((name, colour), value) in enumerate(zip(_STATES, counts, strict=True)):
        x0, x1 = left + index * slot + 10, left + (index + 1) * slot - 10
        height = 0 if peak <= 0 else (bottom - top - 18) * max(value, 0) / peak
        if height > 0:
            draw.rectangle([x0, bottom - max(height, 1), x1, bottom], fill=colour)
        middle = (x0 + x1) / 2
        draw.text((middle, bottom - height - 18), short_count(value), _TEXT, _font(14), anchor="ma")
        draw.text((middle, bottom + 8), name, _MUTED, _font(12), anchor="ma")
