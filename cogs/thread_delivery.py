"""Threads: a forum post, or a thread opened on the message, per item; a story's later outlets in its thread.

SKELETON (issue 13, point 3): being written; see /work/notes/issue13.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import discord

from bot.delivery.destination import Destination
from bot.delivery.errors import MessageRejectedError
from bot.delivery.message import MessageSpec
from bot.storage import Database

if TYPE_CHECKING:
    from cogs.publisher import DiscordPublisher


class ThreadSender:
    def __init__(self, client: discord.Client, db: Database, publisher: DiscordPublisher) -> None:
        self._client = client
        self._db = db
        self._publisher = publisher

    async def send(self, channel_id: int, spec: MessageSpec, *, nonce: str, destination: Destination) -> int:
        raise MessageRejectedError("thread posts are not supported yet", channel_id)

    async def find_posted(
        self, channel_id: int, spec: MessageSpec, *, since: datetime, destination: Destination
    ) -> int | None:
        return None
