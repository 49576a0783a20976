"""Tables of stories (migration 0004; digests and alerts have their own modules).

* ``feed_items.story_id``: the story each item was grouped into (NULL until the assigner has seen
  it). The column is appended here to the ``feed_items`` table of :mod:`bot.storage.feed_tables`,
  which belongs to the feeds domain: the feeds code never reads or writes it.
* ``stories``: one row per story, a summary for listings (the items carry the detail).
* ``grouper_state``: the story grouper's state, saved now and then (see
  :mod:`bot.stories.service`), so grouping survives restarts.
* ``service_leases``: which process runs a singleton background job (story assigner, digests);
  see :mod:`bot.storage.leases`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    Table,
    Text,
)

from bot.storage.feed_tables import feed_items
from bot.storage.schema import UTCDateTime, metadata

# --- stories ------------------------------------------------------------------------

feed_items.append_column(Column("story_id", Text, nullable=True))
# The assigner looks for NULLs; digests and alerts look items up by story.
Index("ix_feed_items_story_id", feed_items.c.story_id)

stories = Table(
    "stories",
    metadata,
    # The grouper's id ("s42"): stable across restarts because the grouper's counter is saved.
    Column("id", Text, primary_key=True),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("item_count", Integer, nullable=False),
    # Distinct outlets (bot.outlets.outlet_key), across every feed the bot polls.
    Column("source_count", Integer, nullable=False),
    # The first item's headline, for listings and logs.
    Column("title", Text, nullable=True),
    Index("ix_stories_last_seen_at", "last_seen_at"),
)

grouper_state = Table(
    "grouper_state",
    metadata,
    Column("name", Text, primary_key=True),
    # zlib-compressed JSON of StoryGrouper.to_state(); encoded off the event loop, so not a JSON column.
    Column("state", LargeBinary, nullable=False),
    # The highest feed_items.id the state has seen: items after it are replayed on load.
    Column("last_item_id", BigInteger, nullable=False),
    Column("saved_at", UTCDateTime, nullable=False),
)

service_leases = Table(
    "service_leases",
    metadata,
    Column("name", Text, primary_key=True),
    Column("owner", Text, nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    # The fencing token (migration 0007): one more each time the lease changes hands.
    Column("term", BigInteger, nullable=False, server_default="0"),
)
