"""The bot's Prometheus metrics: every metric object is defined here, in the default registry.

Other modules import the object they update (``from bot.ops.metrics import FEED_CHECKS``) and
never build their own, so one scrape of ``/metrics`` shows them all, with the default registry's
process and Python collectors (CPU, memory, open files, start time, GC). Labels stay bounded:
no per-feed, per-channel or per-server label (a bot follows thousands of each).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, Info, generate_latest

from bot import __version__

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


def describe_process(roles: Sequence[str], shards: str) -> None:
    """Set the process info: ``shards`` is e.g. ``"0,1"``, ``"all"`` or ``""`` (no gateway)."""
    PROCESS.info({"roles": ",".join(roles), "shards": shards, "version": __version__})


def record_checks(checks: Mapping[str, bool]) -> None:
    for name, ok in checks.items():
        READY.labels(check=name).set(1 if ok else 0)


def exposition() -> tuple[bytes, str]:
    """The default registry in Prometheus's text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
