"""The UPDATE statements :meth:`bot.storage.feeds.FeedStore.record` runs, built once.

Each runs through the driver's ``executemany`` (:class:`~bot.storage.bulk.BulkStatement`) with
rows given as tuples in the order its comment names: a warm poll pass writes one per
feed checked, and SQLAlchemy's per-row parameter handling would cost about a tenth of its CPU.
"""

from __future__ import annotations

from sqlalchemy import bindparam, func, update

from bot.storage.bulk import BulkStatement
from bot.storage.feed_records import PAUSED
from bot.storage.feed_tables import feeds
from bot.storage.leases import FREE
from bot.storage.schema import UTCDateTime

_DT = UTCDateTime()

# What every successful check sets (SET renders in the table's column order, whatever the order here).
_SUCCESS = {
    "etag": bindparam("b_etag"),
    "last_modified": bindparam("b_last_modified"),
    "next_check_at": bindparam("b_next", type_=_DT),
    "last_checked_at": bindparam("b_now", type_=_DT),
    "last_success_at": bindparam("b_now", type_=_DT),
    "failures": 0,
    "last_error": None,
    **FREE,
}

#: A check with nothing to parse: new validators, failures reset, lease released.
#: Rows: (id, etag, last_modified, next check, now).
RECORD_OK = BulkStatement(
    update(feeds).where(feeds.c.id == bindparam("b_id")).values(**_SUCCESS),
    ("b_id", "b_etag", "b_last_modified", "b_next", "b_now"),
)
#: A parsed feed: its metadata (a missing value keeps the old one), validators and hint.
#: Rows: (id, title, site URL, icon URL, etag, last_modified, body hash, hint, next check, now).
RECORD_CHANGED = BulkStatement(
    update(feeds)
    .where(feeds.c.id == bindparam("b_id"))
    .values(
        title=func.coalesce(bindparam("b_title"), feeds.c.title),
        site_url=func.coalesce(bindparam("b_site_url"), feeds.c.site_url),
        icon_url=func.coalesce(bindparam("b_icon_url"), feeds.c.icon_url),
        body_hash=bindparam("b_body_hash"),
        update_hint_s=bindparam("b_hint"),
        **_SUCCESS,
    ),
    ("b_id", "b_title", "b_site_url", "b_icon_url", "b_etag", "b_last_modified", "b_body_hash",
     "b_hint", "b_next", "b_now"),
)  # fmt: skip
#: A failed check: failures and error kept, next check set, lease released.
#: Rows: (id, failures, error, next check, now).
RECORD_FAILED = BulkStatement(
    update(feeds)
    .where(feeds.c.id == bindparam("b_id"))
    .values(
        failures=bindparam("b_failures"),
        last_error=bindparam("b_error"),
        next_check_at=bindparam("b_next", type_=_DT),
        last_checked_at=bindparam("b_now", type_=_DT),
        **FREE,
    ),
    ("b_id", "b_failures", "b_error", "b_next", "b_now"),
)
#: A feed paused after too many failures. Rows: (id, reason).
RECORD_PAUSE = BulkStatement(
    update(feeds)
    .where(feeds.c.id == bindparam("b_id"))
    .values(status=PAUSED, paused_reason=bindparam("b_reason")),
    ("b_id", "b_reason"),
)
#: A claimed feed not fetched now: due again later, lease released. Rows: (id, next check).
RECORD_DEFER = BulkStatement(
    update(feeds)
    .where(feeds.c.id == bindparam("b_id"))
    .values(next_check_at=bindparam("b_next", type_=_DT), **FREE),
    ("b_id", "b_next"),
)


__all__ = ["RECORD_CHANGED", "RECORD_DEFER", "RECORD_FAILED", "RECORD_OK", "RECORD_PAUSE"]
