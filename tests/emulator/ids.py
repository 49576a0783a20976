"""Snowflakes, bot tokens and timestamps, made the way Discord makes them."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import itertools
import secrets
import time

DISCORD_EPOCH_MS = 1_420_070_400_000

_increment = itertools.count()


def snowflake(now: float | None = None) -> int:
    """A new id: milliseconds since the Discord epoch, then a process-wide counter."""
    ms = int((time.time() if now is None else now) * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | (next(_increment) & 0x3FFFFF)


def snowflake_on_shard(shard_id: int, shard_count: int) -> int:
    """A new id whose guild's events go to shard ``shard_id`` of ``shard_count``."""
    value = snowflake()
    while (value >> 22) % shard_count != shard_id:
        value += 1 << 22  # one millisecond later
    return value


def snowflake_time(value: int) -> float:
    """Unix time at which ``value`` was made."""
    return ((value >> 22) + DISCORD_EPOCH_MS) / 1000


def make_token(user_id: int) -> str:
    """A bot token in Discord's shape: ``base64(user_id).timestamp.hmac``."""
    head = base64.urlsafe_b64encode(str(user_id).encode()).decode().rstrip("=")
    return f"{head}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(27)}"


def user_id_from_token(token: str) -> int | None:
    """The user id a token names, or None when it is not a bot token."""
    head = token.split(".", 1)[0]
    try:
        return int(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def iso_timestamp(at: float | None = None) -> str:
    """ISO 8601 with a UTC offset, as Discord writes message timestamps."""
    moment = dt.datetime.fromtimestamp(time.time() if at is None else at, dt.UTC)
    return moment.isoformat()
