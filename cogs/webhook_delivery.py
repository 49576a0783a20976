"""Branded posts: a row with a webhook destination is posted through the channel's webhook.

SKELETON (issue 13, point 2): being written; see /work/notes/issue13.md.
"""

from __future__ import annotations

from datetime import datetime

import discord

from bot.delivery.destination import Destination
from bot.delivery.errors import MessageRejectedError
from bot.delivery.message import MessageSpec
from bot.storage import Database


class WebhookSender:
    def __init__(self, client: discord.Client, db: Database) -> None:
        self._client = client
        self._db = db

    async def send(self, channel_id: int, spec: MessageSpec, *, nonce: str, destination: Destination) -> int:
        raise MessageRejectedError("webhook posts are not supported yet", channel_id)

    async def find_posted(
        self, channel_id: int, spec: MessageSpec, *, since: datetime, destination: Destination
    ) -> int | None:
        return None
