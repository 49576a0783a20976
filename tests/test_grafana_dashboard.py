"""deploy/grafana/newsdesk.json: valid JSON, built only on metrics the bot exports, and showing
what an operator watches."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

import bot.ops.metrics  # noqa: F401 - registers the bot's metrics

DASHBOARD = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "newsdesk.json"
_NAME = re.compile(r"\bnewsdesk_[a-z0-9_]+")


def exported_names() -> set[str]:
    """Every sample name the default registry exposes (``_total``, ``_bucket``, ``_info``...)."""
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(s.name for s in family.samples)
        if family.type == "histogram":
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_count", "_sum"))
        if family.type == "counter":
            names.add(f"{family.name}_total")
    return names


def dashboard() -> dict[str, Any]:
    board: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return board


def expressions(board: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


def test_dashboard_is_valid_json_with_unique_panel_ids() -> None:
    board = dashboard()
    assert board["uid"] == "newsdesk"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for p in board["panels"]:
        assert set(p["gridPos"]) == {"h", "w", "x", "y"} and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24


def test_dashboard_references_only_exported_metrics() -> None:
    exported = exported_names()
    used = {name for expr in expressions(dashboard()) for name in _NAME.findall(expr)}
    assert used, "the dashboard queries no newsdesk_ metric"
    assert used <= exported, sorted(used - exported)


def test_dashboard_shows_what_an_operator_watches() -> None:
    used = " ".join(expressions(dashboard()))
    for name in (
        "newsdesk_feed_checks_total",
        "newsdesk_poll_lag_seconds_bucket",
        "newsdesk_posts_total",
        "newsdesk_outbox_depth",
        "newsdesk_outbox_oldest_age_seconds",
        "newsdesk_discord_429_total",
        "newsdesk_interaction_ack_seconds_bucket",
        "newsdesk_extract_seconds_bucket",
        "newsdesk_feed_parse_seconds_bucket",
        "newsdesk_event_loop_lag_seconds_bucket",
        "newsdesk_ready",
        "newsdesk_worker_restarts_total",
        "newsdesk_db_pool_checked_out",
        "newsdesk_stories_formed_total",
        "newsdesk_alerts_sent_total",
        "newsdesk_process_info",
    ):
        assert name in used, name


def test_every_bot_metric_is_in_the_readme() -> None:
    readme = (DASHBOARD.parent.parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Monitoring", 1)[1].split("\n## ", 1)[0]
    families = {f.name for f in REGISTRY.collect() if f.name.startswith("newsdesk_")}
    missing = [name for name in sorted(families) if name not in section]
    assert not missing, missing
