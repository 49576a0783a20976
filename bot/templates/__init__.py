"""Post templates: how a subscription's feed posts look (``/feed format``, ``/newsdesk format``)."""

from bot.templates.render import render_post
from bot.templates.syntax import PLACEHOLDERS, TemplateError, parse
from bot.templates.template import DEFAULT_TEMPLATE, PARTS, PRESETS, Template, make_template

__all__ = [
    "DEFAULT_TEMPLATE",
    "PARTS",
    "PLACEHOLDERS",
    "PRESETS",
    "Template",
    "TemplateError",
    "make_template",
    "parse",
    "render_post",
]
