"""Feed subscriptions. Exported here, the pure core: parsing, identity, new-item decisions,
scheduling, discovery, filters and OPML, which touch no network, database or Discord.

Around it: the feed pipeline (:mod:`bot.feeds.pipeline`: checking a feed from claim to the
transaction that records it), the poller that runs it on due feeds (:mod:`bot.feeds.poller`),
and the service behind the ``/feed`` commands (:mod:`bot.feeds.service`).
"""

from bot.feeds.decide import NewItems, decide_new_items
from bot.feeds.discovery import COMMON_FEED_PATHS, FeedLink, candidate_paths, discover_feed_links
from bot.feeds.filters import EntryFilter
from bot.feeds.identity import entry_key, link_key
from bot.feeds.opml import OpmlFeed, OpmlResult, parse_opml, write_opml
from bot.feeds.parse import parse_feed
from bot.feeds.schedule import next_check_at, should_pause
from bot.feeds.types import FeedEntry, ParsedFeed

__all__ = [
    "COMMON_FEED_PATHS",
    "EntryFilter",
    "FeedEntry",
    "FeedLink",
    "NewItems",
    "OpmlFeed",
    "OpmlResult",
    "ParsedFeed",
    "candidate_paths",
    "decide_new_items",
    "discover_feed_links",
    "entry_key",
    "link_key",
    "next_check_at",
    "parse_feed",
    "parse_opml",
    "should_pause",
    "write_opml",
]
