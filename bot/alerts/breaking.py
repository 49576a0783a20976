"""Is a story breaking, and what should a channel's alert do about it? Pure: takes ``now``.

A story is breaking when at least ``min_sources`` distinct outlets reported it within a sliding
window of ``window``, and that window ended recently: within the last ``window`` before ``now``.
So a story that reached three outlets two days ago is not breaking today when a fourth joins,
while a check that runs a few minutes late still sees a burst that just happened.

Each story alerts a channel once. When more outlets join later, the alert is edited to show the
new count, not posted again.

:func:`decide_alert` counts a story's *voices* (:mod:`bot.alerts.voices`): publishers, not feeds
or hosts; no recurring titles; a wire story's word-for-word reprints once unless the channel
counts them; undated articles of a backlog (a first fetch, an outage) never timed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from bot.alerts.types import AlertAction, AlertSettings, AlertStory, ChannelAlertState
from bot.alerts.voices import Sighting, story_voices
from bot.outlets import outlet_key

__all__ = ["breaking_voices", "decide_alert", "distinct_outlets", "is_breaking"]


def is_breaking(
    articles: Iterable[tuple[str, datetime | None]],
    *,
    min_sources: int,
    window: timedelta,
    now: datetime,
) -> bool:
    """Whether ``min_sources`` distinct outlets published within one ``window``, ending recently.

    ``articles`` are ``(source, published)`` pairs; sources are compared by outlet (two feeds of
    one outlet count once). Undated articles are ignored; future-dated ones count as ``now``
    (feed clocks are wrong more often than news comes from the future).
    """
    keyed = [(outlet_key(source), published) for source, published in articles if source.strip()]
    return breaking_voices(keyed, min_sources=min_sources, window=window, now=now)


def breaking_voices(
    sightings: Iterable[Sighting], *, min_sources: int, window: timedelta, now: datetime
) -> bool:
    """:func:`is_breaking` on ``(voice, published)`` pairs whose voices are already keys."""
    if window <= timedelta(0):
        raise ValueError("window must be positive")
    now = _utc(now)
    oldest = now - 2 * window  # windows end no earlier than now - window
    points = sorted(
        (min(_utc(published), now), voice) for voice, published in sightings if published is not None
    )
    points = [(when, voice) for when, voice in points if when >= oldest]
    if len({voice for _, voice in points}) < min_sources:
        return False
    # The voices in a window change only where an article enters or leaves it, so it is enough to
    # try windows ending at an article, starting at one, or at the bounds of the allowed ends.
    ends = {now - window, now}
    for when, _ in points:
        ends.add(when)
        ends.add(when + window)
    for end in ends:
        if not now - window <= end <= now:
            continue
        start = end - window
        voices = {voice for when, voice in points if start <= when <= end}
        if len(voices) >= min_sources:
            return True
    return False


def distinct_outlets(articles: Iterable[tuple[str, datetime | None]], *, now: datetime) -> list[str]:
    """The outlet keys that reported the story (undated articles included), first report first."""
    now = _utc(now)
    # Future-dated reports count as now, as in is_breaking.
    reports = [(source, None if p is None else min(_utc(p), now)) for source, p in articles if source.strip()]
    reports.sort(key=lambda sp: (sp[1] is None, sp[1] if sp[1] is not None else now))
    seen: dict[str, None] = {}
    for source, _ in reports:
        seen.setdefault(outlet_key(source), None)
    return list(seen)


def decide_alert(
    story: AlertStory,
    channel_state: ChannelAlertState | None,
    now: datetime,
    *,
    settings: AlertSettings | None = None,
) -> AlertAction:
    """``post`` the first time a story is breaking, ``edit`` when outlets joined since, else ``none``.

    ``channel_state`` is None if the channel was never alerted about the story. The caller records
    the alert (compare-and-set on the story and channel) before posting, so it is never posted
    twice. An edit need not wait for the post to be sent: it goes through the outbox after it.
    """
    settings = settings if settings is not None else AlertSettings()
    voices = story_voices(story, count_reprints=settings.count_reprints)
    count = len({voice for voice, _ in voices})
    if channel_state is None:
        breaking = breaking_voices(voices, min_sources=settings.min_sources, window=settings.window, now=now)
        if breaking:
            return AlertAction("post", count, f"{count} outlets within {settings.window_minutes} min")
        return AlertAction("none", count, "not breaking")
    if channel_state.story_id != story.story_id:
        raise ValueError("channel_state is about another story")
    if count > channel_state.source_count:
        return AlertAction("edit", count, f"{count - channel_state.source_count} more outlets")
    return AlertAction("none", count, "already alerted")


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
    return value.astimezone(UTC)
