"""The outbox's way onto Discord: MessageSpec → discord.py message, Discord errors → delivery errors."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Protocol

import aiohttp
import discord

from bot.delivery.destination import PLAIN, Destination
from bot.delivery.errors import (
    ChannelUnavailableError,
    MessageRejectedError,
    RateLimitedError,
    TransientDeliveryError,
)
from bot.delivery.message import EmbedSpec, MessageSpec
from bot.storage import Database

log = logging.getLogger(__name__)

# Discord's JSON error codes that mean "this channel is gone or closed to us".
UNAVAILABLE_CODES = {10003, 50001, 50013}
#: Discord's "Unknown Message": the message to edit was deleted.
UNKNOWN_MESSAGE = 10008


def to_embed(spec: EmbedSpec) -> discord.Embed:
    embed = discord.Embed(
        title=spec.title,
        url=spec.url,
        description=spec.description,
        colour=spec.colour,
        timestamp=spec.timestamp,
    )
    if spec.author_name:
        embed.set_author(name=spec.author_name, url=spec.author_url, icon_url=spec.author_icon_url)
    if spec.footer_text:
        embed.set_footer(text=spec.footer_text, icon_url=spec.footer_icon_url)
    if spec.image_url:
        embed.set_image(url=spec.image_url)
    if spec.thumbnail_url:
        embed.set_thumbnail(url=spec.thumbnail_url)
    for field in spec.fields:
        embed.add_field(name=field.name, value=field.value, inline=field.inline)
    return embed


def allowed_mentions(spec: MessageSpec) -> discord.AllowedMentions:
    """Nobody, unless the spec names roles: then those roles alone."""
    if not spec.allowed_role_ids:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(
        everyone=False,
        users=False,
        replied_user=False,
        roles=[discord.Object(r) for r in spec.allowed_role_ids],
    )


#: Messages read back at most when looking for an earlier post (one request).
LOOKUP_LIMIT = 100


class DestinationSender(Protocol):
    """Sends the rows of one kind of destination (webhook posts, threads); see DiscordPublisher."""

    async def send(
        self, channel_id: int, spec: MessageSpec, *, nonce: str, destination: Destination
    ) -> int: ...

    async def find_posted(
        self, channel_id: int, spec: MessageSpec, *, since: datetime, destination: Destination
    ) -> int | None: ...


class DiscordPublisher:
    """Implements :class:`bot.delivery.publisher.Publisher` with discord.py's REST client.

    discord.py already waits out 429s per bucket; what escapes it is translated. A row's
    destination picks the way out: a thread (forum post, or a thread on the message) through
    ``threads``, else a webhook post through ``webhooks``, else the bot's own message. The
    thread sender posts its messages through this publisher's :meth:`post_message`.
    """

    def __init__(self, client: discord.Client, db: Database | None = None) -> None:
        self._client = client
        self.webhooks: DestinationSender | None = None
        self.threads: DestinationSender | None = None
        if db is not None:
            # Imported here: both build on this module's translation of Discord's errors.
            from cogs.thread_delivery import ThreadSender
            from cogs.webhook_delivery import WebhookSender

            self.webhooks = WebhookSender(client, db)
            self.threads = ThreadSender(client, db, self)

    async def send(
        self, channel_id: int, spec: MessageSpec, *, nonce: str, destination: Destination = PLAIN
    ) -> int:
        if destination.thread is not None:
            return await self._sender(self.threads, "threads").send(
                channel_id, spec, nonce=nonce, destination=destination
            )
        return await self.post_message(channel_id, spec, nonce=nonce, destination=destination)

    async def post_message(
        self, channel_id: int, spec: MessageSpec, *, nonce: str, destination: Destination = PLAIN
    ) -> int:
        """One message in ``channel_id`` (a channel or a thread): the webhook's when ``destination``
        names one, else the bot's own (``destination.thread`` is not looked at here).
        """
        if destination.webhook is not None:
            return await self._sender(self.webhooks, "webhooks").send(
                channel_id, spec, nonce=nonce, destination=destination
            )
        channel = self._client.get_partial_messageable(channel_id)
        try:
            message = await channel.send(
                content=spec.content,
                embeds=[to_embed(e) for e in spec.embeds],
                allowed_mentions=allowed_mentions(spec),
                # With enforce_nonce (set by discord.py), a resend after a crash
                # returns the message already created instead of a duplicate.
                nonce=nonce,
            )
        except Exception as e:
            raise translate(e, channel_id) from e
        return message.id

    async def find_posted(
        self, channel_id: int, spec: MessageSpec, *, since: datetime, destination: Destination = PLAIN
    ) -> int | None:
        if destination.thread is not None:
            return await self._sender(self.threads, "threads").find_posted(
                channel_id, spec, since=since, destination=destination
            )
        if destination.webhook is not None:
            return await self._sender(self.webhooks, "webhooks").find_posted(
                channel_id, spec, since=since, destination=destination
            )
        return await self.find_own_message(channel_id, spec, since=since)

    async def find_own_message(self, channel_id: int, spec: MessageSpec, *, since: datetime) -> int | None:
        """A message the bot posted in ``channel_id`` after ``since`` that shows ``spec``, or None."""
        me = self._client.user
        if me is None:
            return None
        channel = self._client.get_partial_messageable(channel_id)
        # Sent at the first attempt, so after the row was queued (a minute of clock skew allowed).
        after = discord.Object(discord.utils.time_snowflake(since - timedelta(minutes=1)))
        try:
            async for message in channel.history(limit=LOOKUP_LIMIT, after=after):
                if message.author.id == me.id and shows(message, spec):
                    return message.id
        except (TimeoutError, discord.HTTPException, aiohttp.ClientError) as e:
            # Without Read Message History (an older invite) the nonce is all there is.
            log.info("channel=%s: history not readable (%s); sending with the nonce alone", channel_id, e)
        return None

    @staticmethod
    def _sender(sender: DestinationSender | None, what: str) -> DestinationSender:
        if sender is None:
            # A publisher built without a database cannot keep webhooks or threads.
            raise MessageRejectedError(f"this publisher does not deliver {what}")
        return sender

    async def edit(self, channel_id: int, message_id: int, spec: MessageSpec) -> None:
        message = self._client.get_partial_messageable(channel_id).get_partial_message(message_id)
        try:
            await message.edit(
                content=spec.content,
                embeds=[to_embed(e) for e in spec.embeds],
                allowed_mentions=allowed_mentions(spec),
            )
        except discord.NotFound as e:
            if e.code == UNKNOWN_MESSAGE:  # deleted: the edit is given up, the channel is fine
                raise MessageRejectedError(f"the message was deleted: {e.text or e}", channel_id) from e
            raise translate(e, channel_id) from e
        except Exception as e:
            raise translate(e, channel_id) from e


def shows(message: discord.Message, spec: MessageSpec) -> bool:
    """Whether ``message`` is ``spec`` as posted: same text, same embeds (titles and links)."""
    if (message.content or None) != (spec.content or None) or len(message.embeds) != len(spec.embeds):
        return False
    return all(
        (posted.title or None, posted.url or None) == (wanted.title or None, wanted.url or None)
        for posted, wanted in zip(message.embeds, spec.embeds, strict=True)
    )


def translate(error: Exception, channel_id: int) -> Exception:
    """A delivery error for what discord.py raised (``error`` itself when it is none of Discord's)."""
    if isinstance(error, discord.Forbidden | discord.NotFound) or (
        isinstance(error, discord.HTTPException) and error.code in UNAVAILABLE_CODES
    ):
        return ChannelUnavailableError(f"cannot post in the channel: {error.text or error}", channel_id)
    if isinstance(error, discord.RateLimited):
        return RateLimitedError("rate limited by Discord", channel_id, retry_after=error.retry_after)
    if isinstance(error, discord.HTTPException):
        if error.status == 429:
            retry_after = _retry_after(error.response)
            return RateLimitedError("rate limited by Discord", channel_id, retry_after=retry_after)
        if 400 <= error.status < 500:
            return MessageRejectedError(f"Discord refused the message: {error.text or error}", channel_id)
        return TransientDeliveryError(f"Discord answered {error.status}", channel_id)
    if isinstance(error, aiohttp.ClientError | asyncio.TimeoutError | OSError | discord.GatewayNotFound):
        return TransientDeliveryError(f"network error: {error}", channel_id)
    return error


def _retry_after(response: aiohttp.ClientResponse | None) -> float:
    try:
        return float(response.headers.get("Retry-After", 1.0)) if response is not None else 1.0
    except ValueError:
        return 1.0
