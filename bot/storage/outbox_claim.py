"""The outbox's claim: which rows may be sent now, and leasing them to a dispatcher.

Only a channel's oldest pending row (its *head*) can be claimed, so a channel's rows go out in id
order; see :mod:`bot.storage.outbox` for the whole protocol. The queries are built once per
variant (shard, one channel, excluded channels) and cached: composing them costs more than
running them.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Update,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.leases import FREE, held_by, is_free, skip_locked
from bot.storage.outbox_tables import outbox, outbox_holds
from bot.storage.schema import UTCDateTime

# A literal, not a bound parameter, so PostgreSQL can use the partial index.
IS_PENDING = outbox.c.status == literal_column("'pending'")


async def claim_heads(
    conn: AsyncConnection,
    statement: Select[tuple[int]],
    params: dict[str, Any],
    *,
    owner: str,
    until: datetime,
) -> list[RowMapping]:
    """Lease the rows ``statement`` (a :func:`claim_statement`) selects to ``owner`` until ``until``,
    counting an attempt on each; return them, in id order.
    """
    ids = list((await conn.execute(statement, params)).scalars())
    if not ids:
        return []
    stmt = (
        update(outbox)
        .where(outbox.c.id.in_(ids))
        .values(**held_by(owner, until), attempts=outbox.c.attempts + 1)
        .returning(*outbox.c)
    )
    rows = list((await conn.execute(stmt)).mappings())
    return sorted(rows, key=lambda r: r["id"])


def mark_sent(row_id: int, *, message_id: int, now: datetime) -> Update:
    """Row ``row_id``, if still pending, posted as ``message_id``: sent, its lease freed."""
    return (
        update(outbox)
        .where(outbox.c.id == row_id, IS_PENDING)
        .values(status="sent", message_id=message_id, sent_at=now, **FREE)
    )


@functools.cache
def claimable(
    shard: tuple[int, int] | None, by_channel: bool = False, excluding: bool = False
) -> Select[tuple[int]]:
    """Ids of the channel heads that may be claimed; parameters ``now``, ``channel_id``, ``excluded``.

    The heads are found per channel (``min(id)`` of the pending rows, grouped)
    through the partial index of pending rows, so the cost grows with the
    pending rows, not with the sent ones the table keeps until purged.
    Built once per variant: composing the expression costs more than running it.
    """
    now = bindparam("now", type_=UTCDateTime())
    pending = outbox.alias("pending")
    heads = (
        select(func.min(pending.c.id))
        .where(pending.c.status == literal_column("'pending'"))
        .group_by(pending.c.channel_id)
    )
    if by_channel:
        heads = heads.where(pending.c.channel_id == bindparam("channel_id", type_=BigInteger()))
    if excluding:
        heads = heads.where(pending.c.channel_id.not_in(bindparam("excluded", expanding=True)))
    if shard is not None:
        shard_id, shard_count = shard
        guild = func.coalesce(pending.c.guild_id, 0).op(">>", return_type=BigInteger)(literal_column("22"))
        heads = heads.where(guild % shard_count == shard_id)
    conditions: list[ColumnElement[bool]] = [
        outbox.c.id.in_(heads),
        # Checked again on the row itself: under READ COMMITTED, PostgreSQL re-evaluates
        # these (not the subquery) on a row another transaction just changed.
        IS_PENDING,
        outbox.c.next_attempt_at <= now,
        is_free(outbox, now),
        ~exists().where(outbox_holds.c.channel_id == outbox.c.channel_id),
    ]
    return select(outbox.c.id).where(and_(*conditions))


@functools.cache
def claim_statement(
    dialect_name: str, shard: tuple[int, int] | None, by_channel: bool, excluding: bool
) -> Select[tuple[int]]:
    """The claim query; parameters ``now``, ``limit``, ``channel_id``, ``excluded``."""
    query = claimable(shard, by_channel, excluding).order_by(outbox.c.id)
    query = query.limit(bindparam("limit", type_=Integer()))
    if dialect_name == "postgresql":
        query = skip_locked(query, of=outbox)
    return query
