"""Pure decisions of the outbox: nonces, retry delays, shards. No I/O, no clock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

#: Discord accepts nonces of at most 25 characters.
NONCE_MAX_LENGTH = 25
#: How long Discord's ``enforce_nonce`` is trusted to return the message a nonce already
#: created ("the past few minutes"); a row older than this whose earlier attempt may have
#: reached Discord is looked for in the channel before it is sent again.
NONCE_TRUST = timedelta(minutes=4)
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(number: int) -> str:
    if number < 0:
        raise ValueError(f"negative number {number}")
    digits = []
    while True:
        number, rest = divmod(number, 36)
        digits.append(_DIGITS[rest])
        if number == 0:
            return "".join(reversed(digits))


def needs_lookup(*, attempts: int, created_at: datetime, now: datetime, uses_nonce: bool = True) -> bool:
    """Whether a row about to be sent may already be in the channel beyond the nonce's reach:
    an earlier attempt was made (``attempts`` counts this one) and the row is older than
    :data:`NONCE_TRUST`, or its destination has no nonce (webhooks, forum posts) at all.
    """
    return attempts > 1 and (not uses_nonce or now - created_at >= NONCE_TRUST)


def nonce_for(row_id: int, dedup_key: str) -> str:
    """The Discord nonce of an outbox row: the same row always gets the same nonce.

    ``"nd"`` + the row id in base 36 (at most 13 characters for a 63-bit id) +
    ``"-"`` + 8 characters of a hash of the dedup key. The hash keeps two rows
    with the same id (a database restored from a backup, a second deployment)
    from sharing a nonce, which would make Discord return the wrong message.
    """
    digest = int.from_bytes(hashlib.sha256(dedup_key.encode("utf-8", "surrogatepass")).digest()[:8], "big")
    nonce = f"nd{base36(row_id)}-{base36(digest)[:8]}"
    assert len(nonce) <= NONCE_MAX_LENGTH, nonce
    return nonce


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff for 5xx and network errors; such messages are never dropped."""

    #: Delay after the first failed attempt.
    base_s: float = 2.0
    #: Ceiling of the delay (a long Discord outage is retried this often).
    max_s: float = 300.0

    def delay(self, attempts: int) -> timedelta:
        """How long to wait after ``attempts`` failed sends (1 for the first failure)."""
        exponent = min(max(attempts, 1) - 1, 32)  # 2**32 * base is past any ceiling
        return timedelta(seconds=min(self.base_s * 2**exponent, self.max_s))


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """Discord's shard of a guild; DMs (no guild) belong to shard 0."""
    if shard_count < 1:
        raise ValueError(f"shard_count must be at least 1, got {shard_count}")
    return ((guild_id or 0) >> 22) % shard_count


def check_shard(shard: tuple[int, int] | None) -> tuple[int, int] | None:
    """Validate a ``(shard_id, shard_count)`` filter."""
    if shard is None:
        return None
    shard_id, shard_count = shard
    if shard_count < 1 or not 0 <= shard_id < shard_count:
        raise ValueError(
            f"invalid shard {shard!r}: want (shard_id, shard_count) with 0 <= shard_id < shard_count"
        )
    return shard_id, shard_count
