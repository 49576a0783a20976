"""Branded posts: a row with a webhook destination is posted through the channel's webhook.

One webhook per channel, made by the bot (named :data:`WEBHOOK_NAME`) and reused; each post
gives it the outlet's name and avatar. It is kept in ``channel_webhooks``
(:class:`bot.storage.webhooks.WebhookStore`); when the table has none it is found again among
the channel's webhooks (one the bot's application owns), else made. When Discord answers
Unknown Webhook (someone deleted it), it is forgotten, made again and the post sent again.

Exactly-once without a nonce: webhooks take none, so a post is sent with ``wait=true`` (the
answer is the message) and never retried inside a send; the dispatcher calls
:meth:`WebhookSender.find_posted` before every resend, which looks in the channel for a
message of our webhook that shows the post. That is also why executes are not made through
discord.py's webhook client, which retries 5xx answers by itself.

Making or finding the webhook needs Manage Webhooks in the channel: without it the channel is
held (its posts kept) with a reason that says so, shown by ``/feed list``; ``/feed resume``
sends them once the permission is back. The token is a secret: never logged, never in errors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import aiohttp
import discord

from bot.delivery.destination import Destination, WebhookIdentity
from bot.delivery.errors import (
    ChannelUnavailableError,
    MessageRejectedError,
    RateLimitedError,
    TransientDeliveryError,
)
from bot.delivery.message import MessageSpec
from bot.storage import Database
from bot.storage.webhooks import ChannelWebhook, WebhookStore
from cogs.publisher import LOOKUP_LIMIT, allowed_mentions, shows, to_embed, translate

log = logging.getLogger(__name__)

#: The name of the webhook the bot makes in a channel (each post shows the outlet's instead).
WEBHOOK_NAME = "newsdesk"
#: Discord's codes for a webhook that is gone (10015 Unknown Webhook) or whose token no longer
#: works (50027 Invalid Webhook Token): either way, a new one is made.
GONE_CODES = {10015, 50027}
#: 50013 Missing Permissions; 30007 Maximum number of webhooks reached (15 per channel).
#: 50024 Cannot execute action on this channel type (a thread, a voice channel).
MISSING_PERMISSIONS, TOO_MANY_WEBHOOKS, WRONG_CHANNEL_TYPE = 50013, 30007, 50024
#: Webhook ids forgotten in this process, still matched by find_posted (an earlier attempt may
#: have posted through one just before it was deleted).
FORGOTTEN_KEPT = 256


class WebhookGoneError(Exception):
    """The webhook was deleted (or its token revoked) on Discord."""


class WebhookSender:
    """Posts messages through each channel's webhook; see the module docstring."""

    def __init__(self, client: discord.Client, db: Database) -> None:
        self._client = client
        self._store = WebhookStore(db)
        # One webhook lookup or creation per channel at a time in this process.
        self._locks: dict[int, asyncio.Lock] = {}
        self._forgotten: dict[int, set[int]] = {}
        # Per webhook: the loop time before which its rate-limit bucket is empty.
        self._not_before: dict[int, float] = {}

    async def send(self, channel_id: int, spec: MessageSpec, *, nonce: str, destination: Destination) -> int:
        if destination.webhook is None:
            raise MessageRejectedError("a webhook post without a webhook identity", channel_id)
        parent = self._parent_of(channel_id)
        if parent is not None:  # a thread has no webhooks: its channel's posts into it
            return await self.execute(parent, spec, destination.webhook, thread_id=channel_id)
        return await self.execute(channel_id, spec, destination.webhook)

    async def execute(
        self,
        channel_id: int,
        spec: MessageSpec,
        identity: WebhookIdentity,
        *,
        thread_id: int | None = None,
        thread_name: str | None = None,
        applied_tags: Sequence[int] = (),
    ) -> int:
        """Post ``spec`` as ``identity`` through ``channel_id``'s webhook; the message id.

        ``thread_id``: into that thread of the channel. ``thread_name`` (a forum channel): as a
        new forum post of that name, with ``applied_tags`` (tag ids); its id is the message's.
        Raises the delivery errors of :mod:`bot.delivery.errors`, Discord's own error as their
        ``__cause__`` (its ``code`` tells a gone thread, 10003, from the rest).
        """
        payload = _payload(spec, identity, thread_name=thread_name, applied_tags=applied_tags)
        webhook = await self.webhook_for(channel_id)
        try:
            return await self._post(webhook, payload, thread_id=thread_id)
        except WebhookGoneError:
            log.warning(
                "channel=%s: webhook %s was deleted; making a new one", channel_id, webhook.webhook_id
            )
            await self._forget(webhook)
        # Nothing was posted through the gone webhook: the same post again through a new one.
        webhook = await self.webhook_for(channel_id, stale=webhook.webhook_id)
        try:
            return await self._post(webhook, payload, thread_id=thread_id)
        except WebhookGoneError:
            await self._forget(webhook)
            raise TransientDeliveryError(
                "the channel's webhook was deleted twice in a row", channel_id
            ) from None

    async def find_posted(
        self, channel_id: int, spec: MessageSpec, *, since: datetime, destination: Destination
    ) -> int | None:
        parent = self._parent_of(channel_id)
        if parent is not None:
            return await self.find_in(parent, spec, since=since, location_id=channel_id)
        return await self.find_in(channel_id, spec, since=since)

    def _parent_of(self, channel_id: int) -> int | None:
        """The channel of ``channel_id`` when it is a thread (as far as the cache knows)."""
        channel = self._client.get_channel(channel_id)
        return channel.parent_id if isinstance(channel, discord.Thread) else None

    async def find_in(
        self, channel_id: int, spec: MessageSpec, *, since: datetime, location_id: int | None = None
    ) -> int | None:
        """A message our webhook of ``channel_id`` posted after ``since`` (a minute of clock skew
        allowed) in ``location_id`` (a thread of the channel; default the channel) that shows
        ``spec``, or None. Raises when the history cannot be read (then nobody can tell).
        """
        ours = await self.webhook_ids(channel_id)
        if not ours:
            return None  # no webhook of ours: nothing was posted through one
        where = self._client.get_partial_messageable(location_id or channel_id)
        after = discord.Object(discord.utils.time_snowflake(since - timedelta(minutes=1)))
        try:
            async for message in where.history(limit=LOOKUP_LIMIT, after=after):
                if message.webhook_id in ours and shows(message, spec):
                    return message.id
        except Exception as e:
            raise translate(e, channel_id) from e
        return None

    # -- the channel's webhook -------------------------------------------------------------------

    async def webhook_ids(self, channel_id: int) -> set[int]:
        """The ids of our webhooks of ``channel_id`` whose posts may be there: the saved one and
        those forgotten in this process (a message's ``webhook_id`` tells it is ours).
        """
        saved = await self._store.get(channel_id)
        ours = set(self._forgotten.get(channel_id, ()))
        if saved is not None:
            ours.add(saved.webhook_id)
        return ours

    async def webhook_for(self, channel_id: int, *, stale: int | None = None) -> ChannelWebhook:
        """The channel's webhook: saved, else found among the channel's, else made (not ``stale``)."""
        saved = await self._store.get(channel_id)
        if saved is not None and saved.webhook_id != stale:
            return saved
        lock = self._locks.setdefault(channel_id, asyncio.Lock())
        async with lock:
            saved = await self._store.get(channel_id)
            if saved is not None and saved.webhook_id != stale:
                return saved
            if saved is not None:
                await self._forget(saved)
            try:
                found = await self._find_on_discord(channel_id, stale=stale)
                made = found is None
                webhook = found or await self._create(channel_id)
            except discord.HTTPException as e:
                raise self._refusal(e, channel_id) from e
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                raise translate(e, channel_id) from e
            winner = await self._store.save(webhook, now=discord.utils.utcnow())
            if made and winner.webhook_id != webhook.webhook_id:
                # Another process saved its webhook first: ours is one too many.
                await self._delete(webhook)
            return winner

    async def _find_on_discord(self, channel_id: int, *, stale: int | None) -> ChannelWebhook | None:
        """The bot's own webhook among the channel's (the lowest id: every process picks the same)."""
        listed = cast("list[dict[str, Any]]", await self._client.http.channel_webhooks(channel_id))
        ours = [
            hook for hook in listed if hook.get("token") and self._owns(hook) and int(hook["id"]) != stale
        ]
        if not ours:
            return None
        first = min(ours, key=lambda hook: int(hook["id"]))
        log.info("channel=%s: using the bot's webhook %s found in the channel", channel_id, first["id"])
        return _channel_webhook(first, channel_id)

    def _owns(self, hook: dict[str, Any]) -> bool:
        app = self._client.application_id
        me = self._client.user
        owner = (hook.get("user") or {}).get("id")
        return (app is not None and str(hook.get("application_id")) == str(app)) or (
            me is not None and owner is not None and str(owner) == str(me.id)
        )

    async def _create(self, channel_id: int) -> ChannelWebhook:
        hook: dict[str, Any] = await self._client.http.create_webhook(  # type: ignore[assignment]
            channel_id, name=WEBHOOK_NAME, reason="newsdesk: posts under the outlet's name (/feed webhook)"
        )
        log.info("channel=%s: made webhook %s", channel_id, hook["id"])
        return _channel_webhook(hook, channel_id)

    async def _delete(self, webhook: ChannelWebhook) -> None:
        route = discord.http.Route("DELETE", "/webhooks/{webhook_id}", webhook_id=webhook.webhook_id)
        try:
            await self._client.http.request(route, reason="newsdesk: another process made this channel's")
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as e:
            log.info(
                "channel=%s: could not delete extra webhook %s: %s", webhook.channel_id, webhook.webhook_id, e
            )

    async def _forget(self, webhook: ChannelWebhook) -> None:
        forgotten = self._forgotten.setdefault(webhook.channel_id, set())
        if len(forgotten) < FORGOTTEN_KEPT:
            forgotten.add(webhook.webhook_id)
        await self._store.forget(webhook.channel_id, webhook.webhook_id)

    def _refusal(self, error: discord.HTTPException, channel_id: int) -> Exception:
        """What Discord's refusal to list or make the channel's webhook means for its posts."""
        # The reason /feed list shows (as text, mentions escaped): what is missing, where, what to do.
        channel = self._client.get_channel(channel_id)
        where = f"#{channel.name}" if isinstance(channel, discord.abc.GuildChannel) else "the channel"
        if error.code == MISSING_PERMISSIONS:
            return ChannelUnavailableError(
                f"I need Manage Webhooks in {where} to post as the outlet: give it back, then /feed resume",
                channel_id,
            )
        if error.code == WRONG_CHANNEL_TYPE:
            return ChannelUnavailableError(
                f"{where} takes no webhooks (a thread?): turn /feed webhook off, then /feed resume",
                channel_id,
            )
        if error.code == TOO_MANY_WEBHOOKS:
            return ChannelUnavailableError(
                f"{where} has the most webhooks Discord allows; delete one, then /feed resume", channel_id
            )
        return translate(error, channel_id)

    # -- executing -------------------------------------------------------------------------------

    async def _post(self, webhook: ChannelWebhook, payload: dict[str, Any], *, thread_id: int | None) -> int:
        """One execute request; the message id. Raises WebhookGoneError or a delivery error."""
        channel_id = webhook.channel_id
        wait = self._not_before.get(webhook.webhook_id, 0.0) - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
        params = {"wait": "true"}
        if thread_id is not None:
            params["thread_id"] = str(thread_id)
        url = f"{discord.http.Route.BASE}/webhooks/{webhook.webhook_id}/{webhook.token}"
        http = self._client.http
        # discord.py's own session (as its Webhook.partial(client=) uses): its trace counts 429s.
        session = getattr(http, "_HTTPClient__session", None)
        if not isinstance(session, aiohttp.ClientSession) or session.closed:
            raise TransientDeliveryError("the bot's HTTP session is closed", channel_id)
        try:
            async with session.post(
                url, json=payload, params=params, proxy=http.proxy, proxy_auth=http.proxy_auth
            ) as response:
                data = await discord.http.json_or_text(response)
                self._note_bucket(webhook.webhook_id, response)
                if 200 <= response.status < 300 and isinstance(data, dict):
                    return int(data["id"])
                raise self._answer_error(response, data, channel_id)
        except (aiohttp.ClientError, OSError) as e:
            # aiohttp's errors may quote the URL, which holds the token.
            text = str(e).replace(webhook.token, "<token>")
            raise TransientDeliveryError(f"network error: {type(e).__name__}: {text}", channel_id) from None

    def _note_bucket(self, webhook_id: int, response: aiohttp.ClientResponse) -> None:
        if response.headers.get("X-RateLimit-Remaining") != "0" or response.status == 429:
            return
        try:
            reset_after = float(response.headers.get("X-RateLimit-Reset-After", "0"))
        except ValueError:
            return
        self._not_before[webhook_id] = asyncio.get_running_loop().time() + reset_after

    @staticmethod
    def _answer_error(response: aiohttp.ClientResponse, data: Any, channel_id: int) -> Exception:
        if response.status == 429:
            body = data if isinstance(data, dict) else {}
            retry_after = _float(body.get("retry_after"), _float(response.headers.get("Retry-After"), 1.0))
            return RateLimitedError(
                "rate limited by Discord",
                channel_id,
                retry_after=retry_after,
                is_global=bool(body.get("global")),
            )
        error: discord.HTTPException
        if response.status == 403:
            error = discord.Forbidden(response, data)
        elif response.status == 404:
            error = discord.NotFound(response, data)
        elif response.status >= 500:
            error = discord.DiscordServerError(response, data)
        else:
            error = discord.HTTPException(response, data)
        if error.code in GONE_CODES:
            return WebhookGoneError(error.code)
        return translate(error, channel_id)


def _payload(
    spec: MessageSpec, identity: WebhookIdentity, *, thread_name: str | None, applied_tags: Sequence[int]
) -> dict[str, Any]:
    """The execute body: the post as the outlet, pinging nobody unless the spec lists roles."""
    payload: dict[str, Any] = {
        "username": identity.name,
        "embeds": [to_embed(embed).to_dict() for embed in spec.embeds],
        "allowed_mentions": allowed_mentions(spec).to_dict(),
    }
    if spec.content:
        payload["content"] = spec.content
    if identity.avatar_url:
        payload["avatar_url"] = identity.avatar_url
    if thread_name is not None:
        payload["thread_name"] = thread_name
        if applied_tags:
            payload["applied_tags"] = [str(tag) for tag in applied_tags]
    return payload


def _channel_webhook(hook: dict[str, Any], channel_id: int) -> ChannelWebhook:
    guild_id = hook.get("guild_id")
    return ChannelWebhook(
        channel_id, int(hook["id"]), str(hook["token"]), int(guild_id) if guild_id else None
    )


def _float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
