"""Public types of alerts: settings, the story as alerts see it, and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.alerts.errors import AlertSettingsError

__all__ = ["AlertAction", "AlertArticle", "AlertKind", "AlertSettings", "AlertStory", "ChannelAlertState"]

AlertKind = Literal["post", "edit", "none"]

#: Bounds of the settings a channel may choose.
MAX_MIN_SOURCES = 50
MAX_WINDOW_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """A channel's breaking-story alert settings."""

    #: A story is breaking once this many distinct outlets reported it...
    min_sources: int = 3
    #: ...within this many minutes of each other.
    window_minutes: int = 60
    #: The role to mention with each alert; None mentions nobody.
    role_id: int | None = None
    #: Whether each word-for-word reprint of a story (a wire story on member sites) counts as its
    #: own outlet; by default the copies count once, as the earliest copy's outlet.
    count_reprints: bool = False

    def __post_init__(self) -> None:
        if not 2 <= self.min_sources <= MAX_MIN_SOURCES:
            raise AlertSettingsError(f"The number of sources must be between 2 and {MAX_MIN_SOURCES}.")
        if not 1 <= self.window_minutes <= MAX_WINDOW_MINUTES:
            raise AlertSettingsError(f"The window must be between 1 and {MAX_WINDOW_MINUTES} minutes.")
        if self.role_id is not None and (isinstance(self.role_id, bool) or self.role_id <= 0):
            raise AlertSettingsError("The role to mention is not a valid role.")

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)


@dataclass(frozen=True, slots=True)
class AlertArticle:
    """One article of a story."""

    #: The outlet's name or host; feeds and domains of one publisher count once (see
    #: ``bot.alerts.voices``).
    source: str
    #: When it was published (timezone-aware); undated articles are ignored by the breaking test.
    published: datetime | None
    title: str = ""
    url: str = ""
    summary: str | None = None
    #: How to name the outlet to readers (the feed's title), when known; else ``source``.
    display_name: str | None = None
    #: Undated, and first seen in a backlog (its feed's first fetch, a new feed or an OPML import,
    #: or a fetch of many undated items after an outage): when it was published is unknown, so it
    #: never makes a story breaking (it still counts as an outlet).
    imported: bool = False

    @property
    def shown_name(self) -> str:
        return self.display_name or self.source


@dataclass(frozen=True, slots=True)
class AlertStory:
    """A story as the alert decision sees it: its articles so far."""

    story_id: str
    articles: tuple[AlertArticle, ...]

    def sightings(self) -> list[tuple[str, datetime | None]]:
        """``(source, published)`` per article, the input of ``is_breaking``."""
        return [(a.source, a.published) for a in self.articles]


@dataclass(frozen=True, slots=True)
class ChannelAlertState:
    """What a channel was already told about a story (the caller's row, one per channel and story)."""

    story_id: str
    #: Distinct outlets the alert message shows (or will, once its queued edits are sent).
    source_count: int
    alerted_at: datetime


@dataclass(frozen=True, slots=True)
class AlertAction:
    """What to do for one story in one channel."""

    #: ``post`` a new alert, ``edit`` the existing one, or ``none``.
    kind: AlertKind
    #: Distinct outlets reporting the story up to now (what the message should show).
    source_count: int
    #: Why, for logs.
    reason: str
