"""Discord-shaped embeds without Discord: what a message will hold, and Discord's size limits.

The delivery layer turns an :class:`EmbedSpec` into a ``discord.Embed``; here it is plain data so
digests and alerts can be built and tested without a client.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "DESCRIPTION_LIMIT",
    "EMBEDS_PER_MESSAGE",
    "EMBED_TOTAL_LIMIT",
    "FIELD_NAME_LIMIT",
    "FIELD_VALUE_LIMIT",
    "FOOTER_LIMIT",
    "TITLE_LIMIT",
    "EmbedField",
    "EmbedSpec",
    "discord_length",
    "message_length",
]

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
#: The sum of titles, descriptions, field names and values and footers of all embeds of a message.
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10


def discord_length(text: str | None) -> int:
    """The length Discord checks against its limits, counted in UTF-16 code units.

    That is never less than ``len()``: an emoji outside the BMP counts twice, so a text measured
    this way is within the limit however Discord counts.
    """
    if not text:
        return 0
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class EmbedField:
    """One name/value field of an embed."""

    name: str
    value: str
    inline: bool = False


@dataclass(frozen=True, slots=True)
class EmbedSpec:
    """The parts of one embed that newsdesk uses."""

    #: Bold first line (up to 256 characters), linked to ``url`` if set.
    title: str | None = None
    url: str | None = None
    #: Markdown body, up to 4096 characters.
    description: str | None = None
    fields: tuple[EmbedField, ...] = field(default_factory=tuple)
    #: Small print at the bottom, up to 2048 characters.
    footer: str | None = None
    #: Shown by Discord in the reader's time zone, next to the footer.
    timestamp: datetime | None = None

    def length(self) -> int:
        """The characters this embed counts toward the per-message total."""
        return (
            discord_length(self.title)
            + discord_length(self.description)
            + discord_length(self.footer)
            + sum(discord_length(f.name) + discord_length(f.value) for f in self.fields)
        )

    def within_limits(self) -> bool:
        """Whether each part fits Discord's per-part limits."""
        return (
            discord_length(self.title) <= TITLE_LIMIT
            and discord_length(self.description) <= DESCRIPTION_LIMIT
            and discord_length(self.footer) <= FOOTER_LIMIT
            and len(self.fields) <= 25
            and all(
                discord_length(f.name) <= FIELD_NAME_LIMIT and discord_length(f.value) <= FIELD_VALUE_LIMIT
                for f in self.fields
            )
            and self.length() <= EMBED_TOTAL_LIMIT
        )


def message_length(embeds: Iterable[EmbedSpec]) -> int:
    """The characters a message's embeds count together (Discord caps the sum at 6000)."""
    return sum(e.length() for e in embeds)
