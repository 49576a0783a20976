"""Digests: when a channel's digest is due, what goes in it, and how it is laid out.

Pure (no network, no database, no Discord): storage, the scheduler loop and delivery call these
functions with the current time.
"""

from bot.digests.compose import Digest, DigestArticle, DigestEntry, SourceLink, compose_digest
from bot.digests.errors import DigestError, ScheduleError
from bot.digests.headline import pick_headline
from bot.digests.render import render_digest, render_entry
from bot.digests.schedule import (
    DigestSchedule,
    MissedAction,
    advance,
    decide_missed,
    next_due_at,
    parse_schedule,
    timezone_choices,
)
from bot.digests.text import join_names, lead_sentences

__all__ = [
    "Digest",
    "DigestArticle",
    "DigestEntry",
    "DigestError",
    "DigestSchedule",
    "MissedAction",
    "ScheduleError",
    "SourceLink",
    "advance",
    "compose_digest",
    "decide_missed",
    "join_names",
    "lead_sentences",
    "next_due_at",
    "parse_schedule",
    "pick_headline",
    "render_digest",
    "render_entry",
    "timezone_choices",
]
