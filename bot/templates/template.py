"""A post template: a preset and the parts that override it, as stored (JSON) and validated.

``Template(preset="compact")`` is a built-in layout; ``Template(preset="full", title="{source}:
{title}")`` is that layout with its embed title replaced. Every part is checked when the template
is made with :func:`make_template` (what the commands call): a bad one is a
:class:`~bot.templates.syntax.TemplateError` and nothing is saved.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from bot.delivery.message import AUTHOR_LIMIT, CONTENT_LIMIT, DESCRIPTION_LIMIT, FOOTER_LIMIT, TITLE_LIMIT
from bot.templates.syntax import TemplateError, literal_length, parse

#: Built-in layouts; ``full`` (the default) is the embed every post had before templates.
PRESETS = ("full", "compact", "headline", "image")
DEFAULT_PRESET = "full"
#: The template parts, in the order the commands list them.
PARTS = ("content", "title", "description", "url", "color", "thumbnail", "image", "author", "footer")
#: Parts whose result is a link; the result must be an http(s) address or the part is left out.
URL_PARTS = frozenset({"url", "thumbnail", "image"})
#: The longest text each part may hold of its own (placeholder values are fitted at send time).
TEXT_LIMITS = {
    "content": CONTENT_LIMIT,
    "title": TITLE_LIMIT,
    "description": DESCRIPTION_LIMIT,
    "author": AUTHOR_LIMIT,
    "footer": FOOTER_LIMIT,
    "url": 2000,
    "thumbnail": 2000,
    "image": 2000,
}
_COLOUR = re.compile(r"(?:#|0x)?([0-9a-f]{6})", re.I)


@dataclass(frozen=True, slots=True)
class Template:
    """How a subscription's posts look: a preset, and parts replacing the preset's own."""

    preset: str = DEFAULT_PRESET
    content: str | None = None
    title: str | None = None
    description: str | None = None
    url: str | None = None
    #: A colour as ``#RRGGBB`` (no placeholders).
    color: str | None = None
    thumbnail: str | None = None
    image: str | None = None
    author: str | None = None
    footer: str | None = None

    def parts(self) -> dict[str, str]:
        """The parts set, by name."""
        return {name: value for name in PARTS if (value := getattr(self, name)) is not None}

    def to_json(self) -> dict[str, Any]:
        return {"preset": self.preset, **self.parts()}

    @classmethod
    def from_json(cls, data: Any) -> Template | None:
        """The stored template, or ``None`` for none (or one this version cannot read: a post
        is then made with the default rather than not at all).
        """
        if not isinstance(data, dict):
            return None
        try:
            return make_template(
                str(data.get("preset") or DEFAULT_PRESET),
                {k: str(v) for k, v in data.items() if k in PARTS and v is not None},
            )
        except TemplateError:
            return None

    def is_default(self) -> bool:
        return self.preset == DEFAULT_PRESET and not self.parts()


DEFAULT_TEMPLATE = Template()


def make_template(preset: str | None, parts: dict[str, str | None]) -> Template:
    """A checked template: :class:`TemplateError` naming the first bad part."""
    preset = (preset or DEFAULT_PRESET).strip().lower()
    if preset not in PRESETS:
        raise TemplateError(f"Unknown preset `{preset[:40]}`; pick one of {', '.join(PRESETS)}.")
    values: dict[str, str] = {}
    for name, value in parts.items():
        if name not in PARTS:
            raise TemplateError(f"Unknown template part `{name[:40]}`.")
        if value is None:
            continue
        if name == "color":
            values[name] = _colour_text(value)
            continue
        pieces = parse(value, part=name)
        if literal_length(pieces) > TEXT_LIMITS[name]:
            raise TemplateError(
                f"The {name}'s own text is {literal_length(pieces)} characters; Discord allows "
                f"{TEXT_LIMITS[name]} there."
            )
        if name in URL_PARTS and value.strip() and not _may_be_url(value.strip()):
            raise TemplateError(
                f"The {name} must be an http(s) address or a placeholder such as `{{link}}` or `{{image}}`."
            )
        values[name] = value
    return dataclasses.replace(Template(preset=preset), **values)


def colour_value(text: str) -> int:
    """The colour ``text`` (checked by :func:`make_template`) stands for."""
    return int(_colour_text(text)[1:], 16)


def _colour_text(value: str) -> str:
    match = _COLOUR.fullmatch(value.strip())
    if match is None:
        raise TemplateError(
            f"The color `{value[:40]}` is not a colour; write it as `#RRGGBB` (e.g. `#3B82F6`)."
        )
    return "#" + match.group(1).upper()


def _may_be_url(value: str) -> bool:
    return value.startswith(("http://", "https://", "{"))
