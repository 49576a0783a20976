"""The one webhook the bot made in each channel (table ``channel_webhooks``, migration 0010).

Branded posts (``/feed webhook``) go out through it. Several processes may make one for the
same channel at once: :meth:`WebhookStore.save` keeps the first saved and returns it, so the
others delete theirs on Discord and use the winner's. A webhook deleted on Discord is
forgotten by id, so a process that already saved a newer one keeps it.

The token lets anyone post in the channel: it is kept out of ``repr`` and never logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select

from bot.storage.database import Database
from bot.storage.destination_tables import channel_webhooks
from bot.storage.schema import insert


@dataclass(frozen=True, slots=True)
class ChannelWebhook:
    """A channel's webhook: its id and the secret token that executes it."""

    channel_id: int
    webhook_id: int
    token: str = field(repr=False)
    guild_id: int | None = None


class WebhookStore:
    """Reads and writes :data:`channel_webhooks` on a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, channel_id: int) -> ChannelWebhook | None:
        """The channel's saved webhook, or None."""
        c = channel_webhooks.c
        stmt = select(c.channel_id, c.webhook_id, c.token, c.guild_id).where(c.channel_id == channel_id)
        async with self._db.session() as conn:
            row = (await conn.execute(stmt)).one_or_none()
        if row is None:
            return None
        return ChannelWebhook(row.channel_id, row.webhook_id, row.token, row.guild_id)

    async def save(self, webhook: ChannelWebhook, *, now: datetime) -> ChannelWebhook:
        """Save ``webhook`` unless the channel already has one; the channel's webhook after
        (``webhook`` itself, or the one another process saved first).
        """
        stmt = (
            insert(self._db.dialect_name, channel_webhooks)
            .values(
                channel_id=webhook.channel_id,
                guild_id=webhook.guild_id,
                webhook_id=webhook.webhook_id,
                token=webhook.token,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[channel_webhooks.c.channel_id])
        )
        c = channel_webhooks.c
        winner = select(c.webhook_id, c.token).where(c.channel_id == webhook.channel_id)
        async with self._db.session(write=True) as conn:
            await conn.execute(stmt)
            # A new statement: on PostgreSQL it sees the row a concurrent winner committed.
            row = (await conn.execute(winner)).one_or_none()
        if row is None or row.webhook_id == webhook.webhook_id:
            return webhook
        return ChannelWebhook(webhook.channel_id, row.webhook_id, row.token, webhook.guild_id)

    async def forget(self, channel_id: int, webhook_id: int) -> bool:
        """Forget the channel's webhook if it is still ``webhook_id``; True if it was."""
        c = channel_webhooks.c
        stmt = delete(channel_webhooks).where(c.channel_id == channel_id, c.webhook_id == webhook_id)
        async with self._db.session(write=True) as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)
