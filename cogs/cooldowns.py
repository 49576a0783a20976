"""Per-member cooldowns for message components, which discord.py's command cooldowns do not cover.

A button press is answered with :class:`~discord.app_commands.CommandOnCooldown`, which
:func:`cogs.errors.handle_error` turns into a private "try again in N s".
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands

if TYPE_CHECKING:
    from cogs.client import NewsdeskBot

#: Buckets kept before the full ones (members who have not clicked for a while) are dropped.
_PRUNE_AT = 1024


class MemberCooldowns:
    """``rate`` uses per ``per_s`` seconds for each member, a token bucket per member id."""

    def __init__(self, rate: int, per_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.per_s = per_s
        self._clock = clock
        self._buckets: dict[int, app_commands.Cooldown] = {}
        self._prune_at = _PRUNE_AT

    def check(self, member_id: int) -> None:
        """Count one use by ``member_id``; raise :class:`~discord.app_commands.CommandOnCooldown`
        (with how long to wait) when it is one too many."""
        now = self._clock()
        bucket = self._buckets.get(member_id)
        if bucket is None:
            if len(self._buckets) >= self._prune_at:
                self._prune(now)
            bucket = self._buckets[member_id] = app_commands.Cooldown(self.rate, self.per_s)
        retry_after = bucket.update_rate_limit(now)
        if retry_after is not None:
            raise app_commands.CommandOnCooldown(bucket, retry_after)

    def _prune(self, now: float) -> None:
        # A full bucket is the same as no bucket: dropping it forgets nothing.
        self._buckets = {
            member: bucket for member, bucket in self._buckets.items() if bucket.get_tokens(now) < self.rate
        }
        self._prune_at = max(_PRUNE_AT, 2 * len(self._buckets))


_ARTICLE_BUTTONS: weakref.WeakKeyDictionary[discord.Client, MemberCooldowns | None] = (
    weakref.WeakKeyDictionary()
)


def check_article_button(interaction: discord.Interaction) -> None:
    """Count a press of an article's Full text, Previous or Next button, per
    ``commands.button_cooldown_*`` of the bot's settings; raise ``CommandOnCooldown`` beyond it."""
    client = cast("NewsdeskBot", interaction.client)  # buttons are only registered by newsdesk's client
    if client not in _ARTICLE_BUTTONS:
        settings = client.settings.commands
        rate, per_s = settings.button_cooldown_rate, settings.button_cooldown_per_s
        _ARTICLE_BUTTONS[client] = MemberCooldowns(rate, per_s) if per_s > 0 else None
    cooldowns = _ARTICLE_BUTTONS[client]
    if cooldowns is not None:
        cooldowns.check(interaction.user.id)
