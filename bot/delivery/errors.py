"""Delivery errors: what a :class:`~bot.delivery.publisher.Publisher` raises.

The publisher (in ``cogs/``) turns discord.py's exceptions into these, so the
dispatcher decides what to do without knowing Discord: retry later, hold the
channel, or give the message up.
"""

from __future__ import annotations

from bot.errors import NewsdeskError


class DeliveryError(NewsdeskError):
    """A message could not be posted."""

    def __init__(self, message: str, channel_id: int | None = None) -> None:
        super().__init__(message)
        self.channel_id = channel_id


class ChannelUnavailableError(DeliveryError):
    """The bot cannot post in the channel (403 Missing Access/Permissions, 404 Unknown Channel).

    The channel's messages are kept and held until it is resumed.
    """


class RateLimitedError(DeliveryError):
    """Discord said 429 and the HTTP client did not retry it itself; try again after ``retry_after``."""

    def __init__(
        self,
        message: str,
        channel_id: int | None = None,
        *,
        retry_after: float,
        is_global: bool = False,
    ) -> None:
        super().__init__(message, channel_id)
        #: Seconds to wait before the next request (Discord's ``retry_after``).
        self.retry_after = max(0.0, float(retry_after))
        #: The global limit: no channel may be posted to before ``retry_after``.
        self.is_global = is_global


class MessageRejectedError(DeliveryError, ValueError):
    """Discord refused the message for its content (400 Invalid Form Body); retrying cannot help."""


class TransientDeliveryError(DeliveryError):
    """A 5xx, a network error or a timeout: the message may go through if tried again."""
