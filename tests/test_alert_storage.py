"""The alerts repository on real databases: settings, keywords, what a check reads, posts in one
transaction with their outbox rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts.types import AlertSettings
from bot.delivery.message import MessageSpec
from bot.storage import Database
from bot.storage.alerts import AlertStore, NewAlert
from bot.storage.outbox import OutboxMessage, OutboxStore

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GUILD = 1


def alert(channel: int, story: str, kind: str = "breaking", *, outbox_kind: str = "alert") -> NewAlert:
    key = f"alert:{channel}:{story}:{kind}"
    message = OutboxMessage(channel, GUILD, outbox_kind, key, MessageSpec(content=f"{story} {kind}"))
    return NewAlert(story, kind, 3, message)


async def test_settings_are_replaced_and_read_back(db: Database) -> None:
    store = AlertStore(db)
    assert await store.get_settings(10) is None
    await store.set_breaking(GUILD, 10, True, AlertSettings(min_sources=4, role_id=77), now=NOW)
    later = NOW + timedelta(minutes=5)
    stored = await store.set_breaking(GUILD, 10, False, AlertSettings(window_minutes=30), now=later)
    assert (stored.breaking_enabled, stored.settings, stored.updated_at) == (
        False,
        AlertSettings(min_sources=3, window_minutes=30, role_id=None),
        later,
    )
    assert await store.get_settings(10) == stored


async def test_keywords_are_unique_per_channel_in_any_case_and_limited(db: Database) -> None:
    store = AlertStore(db)
    assert await store.add_keyword(GUILD, 10, "Storm", user_id=5, now=NOW, limit=2) == "added"
    assert await store.add_keyword(GUILD, 10, "STORM", user_id=5, now=NOW, limit=2) == "exists"
    assert await store.add_keyword(GUILD, 11, "storm", user_id=5, now=NOW, limit=2) == "added"
    assert await store.add_keyword(GUILD, 10, "Flood", user_id=5, now=NOW, limit=2) == "added"
    assert await store.add_keyword(GUILD, 10, "Fire", user_id=5, now=NOW, limit=2) == "full"
    assert await store.keywords(10) == ["Storm", "Flood"]
    assert await store.remove_keyword(10, "storm") is True
    assert await store.remove_keyword(10, "storm") is False
    assert await store.keywords(10) == ["Flood"] and await store.keywords(11) == ["storm"]


async def test_watchers_read_breaking_channels_keywords_roles_and_unsent_alerts(db: Database) -> None:
    store = AlertStore(db)
    await store.set_breaking(GUILD, 10, True, AlertSettings(role_id=77), now=NOW)
    await store.set_breaking(GUILD, 11, False, AlertSettings(role_id=88), now=NOW)
    await store.add_keyword(GUILD, 12, "Storm", user_id=None, now=NOW, limit=5)
    await store.add_keyword(GUILD, 12, "Flood", user_id=None, now=NOW, limit=5)
    await store.record_posts([alert(10, "s1"), alert(10, "s2")], now=NOW - timedelta(hours=7))
    await store.record_posts([alert(10, "s3"), alert(10, "s4")], now=NOW)
    await store.set_message_id("alert:10:s4:breaking", 999)

    seen = await store.watchers(unsent_since=NOW - timedelta(hours=6))
    assert list(seen.breaking) == [10] and seen.breaking[10].settings.role_id == 77
    assert [k.keyword for k in seen.keywords[12].keywords] == ["Storm", "Flood"]
    assert seen.keywords[12].guild_id == GUILD and list(seen.keywords) == [12]
    assert seen.roles == {10: 77, 11: 88}
    assert seen.waiting == ["s3"]  # s1 and s2 are too old; s4 was sent


async def test_a_post_records_its_alert_and_its_outbox_row_once(db: Database) -> None:
    store = AlertStore(db)
    recorded, enqueued = await store.record_posts(
        [alert(10, "s1"), alert(10, "s1", "keyword"), alert(11, "s1")], now=NOW
    )
    assert (len(recorded), enqueued) == (3, 3)
    again, enqueued = await store.record_posts([alert(10, "s1"), alert(10, "s2")], now=NOW)
    assert [a.story_id for a in again] == ["s2"] and enqueued == 1
    rows = await store.alerts_of(["s1", "s2", "s9"])
    assert sorted((r.channel_id, r.story_id, r.kind) for r in rows) == [
        (10, "s1", "breaking"), (10, "s1", "keyword"), (10, "s2", "breaking"), (11, "s1", "breaking"),
    ]  # fmt: skip
    assert {r.dedup_key for r in await OutboxStore(db).rows()} == {r.dedup_key for r in rows}

    await store.set_message_id("alert:10:s2:breaking", 42)
    await store.set_source_count("alert:10:s2:breaking", 5, now=NOW + timedelta(minutes=1))
    [s2] = await store.alerts_of(["s2"])
    assert (s2.message_id, s2.source_count, s2.alerted_at) == (42, 5, NOW)


async def test_a_post_whose_outbox_row_fails_records_no_alert(db: Database) -> None:
    store = AlertStore(db)
    with pytest.raises(ValueError, match="unknown outbox kind"):
        await store.record_posts([alert(10, "s1"), alert(11, "s1", outbox_kind="bogus")], now=NOW)
    assert await store.alerts_of(["s1"]) == []
    assert await OutboxStore(db).rows() == []
