"""What ``/feed format`` and ``/newsdesk format`` share: options to a checked template, the
template described in a reply, and a preview as message arguments.
"""

from __future__ import annotations

from typing import Any

from discord import app_commands

from bot.delivery.message import MessageSpec
from bot.discord_text import fit
from bot.templates import PLACEHOLDERS, PRESETS, Template, make_template
from cogs.publisher import to_embed

#: The preset choices of the commands (``default`` only where a server default can be cleared).
PRESET_CHOICES = [app_commands.Choice(name=p, value=p) for p in PRESETS]
#: Described once for every template option.
PART_HELP = {
    "content": "Message text above the embed, e.g. {title} {link}",
    "title": "Embed title, e.g. {source}: {title}",
    "description": "Embed text, e.g. {summary}",
    "url": "Where the embed title links to (default {link})",
    "color": "Embed colour as #RRGGBB",
    "thumbnail": "Small picture address, e.g. {image}",
    "image": "Large picture address, e.g. {image}",
    "author": "Line above the title, e.g. {source}",
    "footer": "Line under the embed, e.g. {author}",
}


def template_from_options(preset: str | None, **parts: str | None) -> Template:
    """The template the options describe; :class:`~bot.templates.TemplateError` if bad."""
    return make_template(preset, parts)


def describe(template: Template) -> str:
    """A short description of ``template`` for a reply (parts shown as code)."""
    lines = [f"Preset **{template.preset}**"]
    for name, value in template.parts().items():
        shown = fit(value, 200).replace("`", "ˋ")
        lines.append(f"• {name}: `{shown}`")
    return "\n".join(lines)


def placeholder_help() -> str:
    return "Placeholders: " + ", ".join(f"`{{{name}}}`" for name in PLACEHOLDERS)


def preview_kwargs(spec: MessageSpec, note: str) -> dict[str, Any]:
    """Send arguments showing ``spec`` under ``note`` (the note first, then the post's own text)."""
    content = f"{note}\n{spec.content}" if spec.content else note
    return {"content": fit(content, 2000), "embeds": [to_embed(e) for e in spec.embeds]}
