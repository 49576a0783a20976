"""Discord-shaped embeds for digests and alerts: the outbox's own message types.

Re-exported from :mod:`bot.delivery.message` so digests, alerts and feed posts
share one embed type and one set of limits.
"""

from __future__ import annotations

from bot.delivery.message import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FOOTER_LIMIT,
    TITLE_LIMIT,
    EmbedSpec,
    discord_length,
    message_length,
)
from bot.delivery.message import FieldSpec as EmbedField

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
