"""The UPDATE statements :meth:`bot.storage.feeds.FeedStore.record` runs, built once."""

from __future__ import annotations

from sqlalchemy import bindparam, func, update

from bot.storage.feed_records import PAUSED
from bot.storage.feed_tables import feeds
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
    "lease_until": None,
}

#: A check with nothing to parse: new validators, failures reset, lease released.
RECORD_OK = update(feeds).where(feeds.c.id == bindparam("b_id")).values(**_SUCCESS)
#: A parsed feed: its metadata (a missing value keeps the old one), validators and hint.
RECORD_CHANGED = (
    update(feeds)
    .where(feeds.c.id == bindparam("b_id"))
    .values(
        title=func.coalesce(bindparam("b_title"), feeds.c.title),
        site_url=func.coalesce(bindparam("b_site_url"), feeds.c.site_url),
        icon_url=func.coalesce(bindparam("b_icon_url"), feeds.c.icon_url),
        body_hash=bindparam("b_body_hash"),
        update_hint_s=bindparam("b_hint"),
        **_SUCCESS,
    )
)
#: A failed check: failures and error kept, next check set, lease released.
RECORD_FAILED = (
    update(feeds)
    .where(feeds.c.id == bindparam("b_id"))
    .values(
        failures=bindparam("b_failures"),
        last_error=bindparam("b_error"),
        next_check_at=bindparam("b_next", type_=_DT),
        last_checked_at=bindparam("b_now", type_=_DT),
        lease_until=None,
    )
)
#: A feed paused after too many failures.
RECORD_PAUSE = (
    update(feeds)
    .where(feeds.c.id == bindparam("b_id"))
    .values(status=PAUSED, paused_reason=bindparam("b_reason"))
)
#: A claimed feed not fetched now: due again later, lease released.
RECORD_DEFER = (
    update(feeds)
    .where(feeds.c.id == bindparam("b_id"))
    .values(next_check_at=bindparam("b_next", type_=_DT), lease_until=None)
)


__all__ = ["RECORD_CHANGED", "RECORD_DEFER", "RECORD_FAILED", "RECORD_OK", "RECORD_PAUSE"]
