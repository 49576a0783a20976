"""Discord-shaped, Discord-free message specifications.

Services describe what to post as a :class:`MessageSpec`; it is stored in the
outbox as JSON and turned into a real Discord message only by the publisher in
``cogs/``. Limits are Discord's, and every spec is fitted to them when built
(texts cut with :func:`bot.discord_text.fit`), so a post is shortened, never refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.discord_text import discord_length, fit

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
CONTENT_LIMIT = 2000

_EMBED_TEXT_LIMITS = {
    "title": TITLE_LIMIT,
    "description": DESCRIPTION_LIMIT,
    "author_name": AUTHOR_LIMIT,
    "footer_text": FOOTER_LIMIT,
}
_ZWSP = "\u200b"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    value: str
    inline: bool = False

    def __post_init__(self) -> None:
        # Discord requires both; a zero-width space stands in for an empty one.
        object.__setattr__(self, "name", fit(self.name, FIELD_NAME_LIMIT) or _ZWSP)
        object.__setattr__(self, "value", fit(self.value, FIELD_VALUE_LIMIT) or _ZWSP)


@dataclass(frozen=True, slots=True)
class EmbedSpec:
    """One embed. Every text is plain Discord markdown; URLs are absolute http(s)."""

    title: str | None = None
    url: str | None = None
    description: str | None = None
    #: The source line above the title ("The Guardian"), with its icon and link.
    author_name: str | None = None
    author_url: str | None = None
    author_icon_url: str | None = None
    footer_text: str | None = None
    footer_icon_url: str | None = None
    timestamp: datetime | None = None
    image_url: str | None = None
    thumbnail_url: str | None = None
    colour: int | None = None
    fields: tuple[FieldSpec, ...] = ()

    def __post_init__(self) -> None:
        for name, limit in _EMBED_TEXT_LIMITS.items():
            text = getattr(self, name)
            if text is not None:
                object.__setattr__(self, name, fit(text, limit))

    def length(self) -> int:
        """Characters that count towards Discord's 6000-per-message limit."""
        texts = [self.title, self.description, self.author_name, self.footer_text]
        texts += [f.name for f in self.fields] + [f.value for f in self.fields]
        return sum(discord_length(t) for t in texts)

    def within_limits(self) -> bool:
        """Whether each part, and the whole, fits Discord's limits."""
        try:
            MessageSpec(embeds=(self,)).validate()
        except ValueError:
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            name: getattr(self, name)
            for name in self.__slots__
            if name not in ("timestamp", "fields") and getattr(self, name) is not None
        }
        if self.timestamp is not None:
            data["timestamp"] = self.timestamp.isoformat()
        if self.fields:
            data["fields"] = [{"name": f.name, "value": f.value, "inline": f.inline} for f in self.fields]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbedSpec:
        values = dict(data)
        if values.get("timestamp"):
            values["timestamp"] = datetime.fromisoformat(values["timestamp"])
        values["fields"] = tuple(FieldSpec(**f) for f in values.get("fields", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """A message to post. Mentions are off unless ``allowed_role_ids`` names a role."""

    content: str | None = None
    embeds: tuple[EmbedSpec, ...] = ()
    #: Roles this message may ping; empty means it pings nobody.
    allowed_role_ids: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        # Fitted when built (and when read back from the outbox), so a post is cut, never refused.
        if self.content is not None:
            object.__setattr__(self, "content", fit(self.content, CONTENT_LIMIT))
        object.__setattr__(self, "embeds", _fit_total(tuple(self.embeds)))

    def validate(self) -> None:
        """Raise ValueError if Discord would refuse this message for its size."""
        _check(self.content, CONTENT_LIMIT, "content")
        if not self.content and not self.embeds:
            raise ValueError("a message needs content or an embed")
        if len(self.embeds) > EMBEDS_PER_MESSAGE:
            raise ValueError(f"{len(self.embeds)} embeds (limit {EMBEDS_PER_MESSAGE})")
        if message_length(self.embeds) > EMBED_TOTAL_LIMIT:
            raise ValueError(f"embeds exceed {EMBED_TOTAL_LIMIT} characters in total")
        for embed in self.embeds:
            _check(embed.title, TITLE_LIMIT, "embed title")
            _check(embed.description, DESCRIPTION_LIMIT, "embed description")
            _check(embed.author_name, AUTHOR_LIMIT, "embed author")
            _check(embed.footer_text, FOOTER_LIMIT, "embed footer")
            if len(embed.fields) > 25:
                raise ValueError("more than 25 fields")
            for f in embed.fields:
                _check(f.name, FIELD_NAME_LIMIT, "field name")
                _check(f.value, FIELD_VALUE_LIMIT, "field value")

    def to_dict(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "embeds": [e.to_dict() for e in self.embeds],
            "allowed_role_ids": list(self.allowed_role_ids),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MessageSpec:
        return cls(
            content=data.get("content"),
            embeds=tuple(EmbedSpec.from_dict(e) for e in data.get("embeds", ())),
            allowed_role_ids=tuple(int(r) for r in data.get("allowed_role_ids", ())),
        )


def message_length(embeds: Iterable[EmbedSpec]) -> int:
    """The characters a message's embeds count together (Discord caps the sum at 6000)."""
    return sum(e.length() for e in embeds)


def _fit_total(embeds: tuple[EmbedSpec, ...]) -> tuple[EmbedSpec, ...]:
    """``embeds`` within 6000 characters together: every text longer than a common level is
    cut to it (the level as high as the total allows), so no one text is emptied for the others.
    """
    fitted = list(embeds)
    slots = list(_text_slots(fitted))
    if sum(size for size, _, _ in slots) <= EMBED_TOTAL_LIMIT:
        return embeds
    low, high = 0, max(size for size, _, _ in slots)
    while low < high:  # the highest level at which the texts fit together
        level = (low + high + 1) // 2
        if sum(min(size, level) for size, _, _ in slots) <= EMBED_TOTAL_LIMIT:
            low = level
        else:
            high = level - 1
    for size, index, slot in slots:
        if size > low:
            fitted[index] = _shortened(fitted[index], slot, low)
    return tuple(fitted)


def _text_slots(embeds: list[EmbedSpec]) -> Iterable[tuple[int, int, str | int]]:
    """``(length, embed index, slot)``: a slot is an attribute name or a field's index."""
    for index, embed in enumerate(embeds):
        for name in _EMBED_TEXT_LIMITS:
            yield discord_length(getattr(embed, name)), index, name
        for number, item in enumerate(embed.fields):
            yield discord_length(item.name) + discord_length(item.value), index, number


def _shortened(embed: EmbedSpec, slot: str | int, limit: int) -> EmbedSpec:
    if isinstance(slot, str):
        changes: dict[str, Any] = {slot: fit(getattr(embed, slot), limit)}
        return dataclasses.replace(embed, **changes)
    item = embed.fields[slot]
    name = fit(item.name, max(limit // 4, 1))
    value = fit(item.value, max(limit - discord_length(name), 1))
    fields = list(embed.fields)
    fields[slot] = FieldSpec(name, value, item.inline)
    return dataclasses.replace(embed, fields=tuple(fields))


def _check(text: str | None, limit: int, what: str) -> None:
    if discord_length(text) > limit:
        raise ValueError(f"{what} is {discord_length(text)} characters (limit {limit})")
