"""The bot's Prometheus metrics: every metric object is defined here, in the default registry.

Other modules call the one-line helpers below (``metrics.feed_checked("304")``) at their
boundaries and never build their own metric, so one scrape of ``/metrics`` shows them all, with
the default registry's process and Python collectors (CPU, memory, open files, start time, GC).

Labels stay bounded: no per-feed, per-channel or per-server label (a bot follows thousands of
each). Every label takes its values from a fixed set named here, or from a templated Discord
route (ids become ``{channel_id}``), capped at :data:`MAX_ROUTES` values all the same.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, Info, generate_latest

from bot import __version__
from bot.errors import (
    BlockedAddressError,
    ConnectError,
    FeedError,
    FetchTimeoutError,
    HTTPStatusError,
    InvalidURLError,
    NotAFeedError,
    TooLargeError,
    TooManyRedirectsError,
    UnsupportedContentError,
)

PROCESS = Info(
    "newsdesk_process",
    "This process: its roles, the shards it runs and the bot's version",
)
READY = Gauge(
    "newsdesk_ready",
    "1 when the readiness check passed at its last evaluation (/readyz or a scrape), else 0",
    ["check"],
)
HEARTBEAT_AGE = Gauge(
    "newsdesk_heartbeat_age_seconds",
    "Seconds since this process's heartbeat (which keeps its leases) last reached the database",
)
SHARDS_CONNECTED = Gauge(
    "newsdesk_gateway_shards_connected",
    "Gateway shards of this process connected to Discord",
)
SHARDS_RUN = Gauge(
    "newsdesk_gateway_shards",
    "Gateway shards this process runs (connected or not)",
)

# --- feeds ------------------------------------------------------------------------------------

FEED_CHECKS = Counter(
    "newsdesk_feed_checks",
    "Feed checks by outcome: 200 (parsed), unchanged (200, same body), 304, or the error's kind",
    ["outcome"],
)
POLL_LAG = Histogram(
    "newsdesk_poll_lag_seconds",
    "How late a feed is checked: from the time it was due to the start of its check",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
NEW_ITEMS = Counter("newsdesk_feed_new_items", "Feed items seen for the first time")
FEED_PARSE_SECONDS = Histogram(
    "newsdesk_feed_parse_seconds",
    "Time to parse a changed feed body, as the poller waits for it (queue and worker)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EXTRACT_SECONDS = Histogram(
    "newsdesk_extract_seconds",
    "Time to extract an article from a page, as the caller waits for it (queue and worker)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WORKER_RESTARTS = Counter(
    "newsdesk_worker_restarts",
    "Worker processes replaced, by pool (parse, extract) and reason (crashed, timeout, recycled)",
    ["pool", "reason"],
)
STORIES_FORMED = Counter("newsdesk_stories_formed", "Stories formed from feed items")

# --- posts ------------------------------------------------------------------------------------

POSTS = Counter(
    "newsdesk_posts",
    "Posts by kind (feed, digest, alert, notice) and outcome (queued, sent, retried, failed)",
    ["kind", "outcome"],
)
ALERTS_SENT = Counter("newsdesk_alerts_sent", "Breaking-news and keyword alerts posted to Discord")
OUTBOX_DEPTH = Gauge("newsdesk_outbox_depth", "Posts waiting in the outbox (all processes)")
OUTBOX_OLDEST_AGE = Gauge(
    "newsdesk_outbox_oldest_age_seconds",
    "Age of the oldest post waiting in the outbox (0 when none waits)",
)
DISCORD_429 = Counter(
    "newsdesk_discord_429",
    "Discord 429 answers by route template and X-RateLimit-Scope (user, global, shared, ...)",
    ["route", "scope"],
)
ACK_SECONDS = Histogram(
    "newsdesk_interaction_ack_seconds",
    "From an interaction's creation (its snowflake) to the bot's acknowledgement",
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 5),
)

# --- the process ------------------------------------------------------------------------------

DB_POOL_CHECKED_OUT = Gauge("newsdesk_db_pool_checked_out", "Database connections of this process in use")
DB_POOL_SIZE = Gauge(
    "newsdesk_db_pool_size", "Database connections this process holds open (in use or idle in its pool)"
)
LOOP_LAG = Histogram(
    "newsdesk_event_loop_lag_seconds",
    "How late a short sleep on the event loop wakes (sampled twice a second)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
LOOP_LAG_LAST = Gauge("newsdesk_event_loop_lag_last_seconds", "The last event-loop lag sample")

#: Outbox kinds as stored, to the ``kind`` label.
POST_KINDS = {"feed_item": "feed", "digest": "digest", "alert": "alert", "notice": "notice"}
POST_OUTCOMES = ("queued", "sent", "retried", "failed")
#: Distinct 429 routes kept as labels; past this a route counts as ``other``.
MAX_ROUTES = 100
_routes: set[str] = set()

# Each label's child is looked up once: ``.labels()`` costs a lock and a dict lookup per call.
_CHECK = {name: FEED_CHECKS.labels(outcome=name) for name in ("200", "unchanged", "304")}
_POST = {
    (stored, outcome): POSTS.labels(kind=kind, outcome=outcome)
    for stored, kind in POST_KINDS.items()
    for outcome in POST_OUTCOMES
}


def describe_process(roles: Sequence[str], shards: str) -> None:
    """Set the process info: ``shards`` is e.g. ``"0,1"``, ``"all"`` or ``""`` (no gateway)."""
    PROCESS.info({"roles": ",".join(roles), "shards": shards, "version": __version__})


def record_checks(checks: Mapping[str, bool]) -> None:
    for name, ok in checks.items():
        READY.labels(check=name).set(1 if ok else 0)


def feed_checked(outcome: str) -> None:
    """A check answered ``"200"``, ``"unchanged"`` or ``"304"``."""
    _CHECK[outcome].inc()


def feed_failed(error: BaseException) -> None:
    FEED_CHECKS.labels(outcome=error_kind(error)).inc()


def error_kind(error: BaseException) -> str:
    """A failed check's outcome label, from a fixed set."""
    if isinstance(error, HTTPStatusError):
        if error.status == 429:
            return "http_429"
        return f"http_{error.status // 100}xx" if 100 <= error.status < 600 else "http_other"
    for kind, name in _ERROR_KINDS:
        if isinstance(error, kind):
            return name
    return "other"


_ERROR_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (FetchTimeoutError, "timeout"),
    (ConnectError, "connect"),
    (BlockedAddressError, "blocked"),
    (InvalidURLError, "invalid_url"),
    (TooLargeError, "too_large"),
    (TooManyRedirectsError, "redirects"),
    (UnsupportedContentError, "unsupported"),
    (NotAFeedError, "not_a_feed"),
    (FeedError, "parse"),
)


def poll_lag(due_at: datetime | None) -> None:
    """A feed due at ``due_at`` (aware) is being checked now."""
    if due_at is not None:
        POLL_LAG.observe(max(0.0, time.time() - due_at.timestamp()))


def posts_queued(kinds: Sequence[str]) -> None:
    """Rows inserted into the outbox, by their stored kind."""
    for kind in kinds:
        _POST[(kind, "queued")].inc()


def post_done(kind: str, outcome: str) -> None:
    """A send of a row of stored ``kind`` ended ``"sent"``, ``"retried"`` or ``"failed"``."""
    _POST[(kind, outcome)].inc()
    if kind == "alert" and outcome == "sent":
        ALERTS_SENT.inc()


def discord_429(route: str, scope: str) -> None:
    """A 429 on ``route``, already templated (``POST /channels/{channel_id}/messages``)."""
    if route not in _routes:
        if len(_routes) >= MAX_ROUTES:
            route = "other"
        _routes.add(route)
    DISCORD_429.labels(route=route, scope=scope).inc()


def interaction_acknowledged(interaction_id: int) -> None:
    """Discord took the initial response to interaction ``interaction_id`` just now."""
    created_s = ((interaction_id >> 22) + _DISCORD_EPOCH_MS) / 1000
    ACK_SECONDS.observe(max(0.0, time.time() - created_s))


_DISCORD_EPOCH_MS = 1_420_070_400_000


def worker_restarted(function: str, reason: str) -> None:
    """A worker of the pool running ``function`` (``"bot.feeds.jobs:parse_with_keys"``) was replaced."""
    WORKER_RESTARTS.labels(pool=_POOLS.get(function, "other"), reason=reason).inc()


_POOLS = {"bot.feeds.jobs:parse_with_keys": "parse", "bot.extract._core:extract_utf8": "extract"}


def exposition() -> tuple[bytes, str]:
    """The default registry in Prometheus's text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
