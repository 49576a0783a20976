"""The alerts repository on real databases: settings, keywords, what a check reads, posts and
edits in one transaction with their outbox rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts.types import AlertSettings
from bot.delivery.destination import Destination
from bot.delivery.message import MessageSpec
from bot.storage import Database
from bot.storage.alerts import AlertEdit, AlertStore, NewAlert
from bot.storage.outbox import OutboxMessage, OutboxStore

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GUILD = 1


def alert(channel: int, story: str, kind: str = "breaking", *, outbox_kind: str = "alert") -> NewAlert:
    key = f"alert:{channel}:{story}:{kind}"
    message = OutboxMessage(channel, GUILD, outbox_kind, key, MessageSpec(content=f"{story} {kind}"))
    return NewAlert(story, kind, 3, message)


def edit(channel: int, story: str, count: int, *, outbox_kind: str = "alert") -> AlertEdit:
    post = f"alert:{channel}:{story}:breaking"
    spec = MessageSpec(content=f"{story} now {count}")
    message = OutboxMessage(
        channel, GUILD, outbox_kind, f"{post}:edit:{count}", spec, Destination(edit_of=post)
    )
    return AlertEdit(post, count, message)


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


async def test_watchers_read_breaking_channels_keywords_and_roles(db: Database) -> None:
    store = AlertStore(db)
    await store.set_breaking(GUILD, 10, True, AlertSettings(role_id=77), now=NOW)
    await store.set_breaking(GUILD, 11, False, AlertSettings(role_id=88), now=NOW)
    await store.add_keyword(GUILD, 12, "Storm", user_id=None, now=NOW, limit=5)
    await store.add_keyword(GUILD, 12, "Flood", user_id=None, now=NOW, limit=5)

    seen = await store.watchers()
    assert list(seen.breaking) == [10] and seen.breaking[10].settings.role_id == 77
    assert [k.keyword for k in seen.keywords[12].keywords] == ["Storm", "Flood"]
    assert seen.keywords[12].guild_id == GUILD and list(seen.keywords) == [12]
    assert seen.roles == {10: 77, 11: 88}


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


async def test_an_edit_records_the_count_and_queues_its_outbox_row_once_and_only_upwards(
    db: Database,
) -> None:
    store, outbox = AlertStore(db), OutboxStore(db)
    await store.record_posts([alert(10, "s1"), alert(11, "s1")], now=NOW)
    later = NOW + timedelta(minutes=1)
    done = await store.record_edits([edit(10, "s1", 5), edit(11, "s1", 3)], now=later)
    assert [e.message.dedup_key for e in done] == ["alert:10:s1:breaking:edit:5"]  # 11 shows 3 already
    # The same count again, or a lower one (a check that saw less): nothing.
    assert await store.record_edits([edit(10, "s1", 5), edit(10, "s1", 4)], now=later) == []
    assert [e.source_count for e in await store.record_edits([edit(10, "s1", 6)], now=later)] == [6]
    [s10, s11] = await store.alerts_of(["s1"])
    assert (s10.source_count, s10.alerted_at, s11.source_count) == (6, NOW, 3)
    rows = await outbox.rows(channel_id=10)
    assert [r.dedup_key for r in rows] == [
        "alert:10:s1:breaking", "alert:10:s1:breaking:edit:5", "alert:10:s1:breaking:edit:6",
    ]  # fmt: skip
    post = "alert:10:s1:breaking"
    assert [r.message_destination().edit_of for r in rows] == [None, post, post]


async def test_an_edit_whose_outbox_row_fails_records_no_count(db: Database) -> None:
    store = AlertStore(db)
    await store.record_posts([alert(10, "s1")], now=NOW)
    with pytest.raises(ValueError, match="unknown outbox kind"):
        await store.record_edits([edit(10, "s1", 5, outbox_kind="bogus")], now=NOW)
    [row] = await store.alerts_of(["s1"])
    assert row.source_count == 3 and len(await OutboxStore(db).rows()) == 1


async def test_a_post_whose_outbox_row_fails_records_no_alert(db: Database) -> None:
    store = AlertStore(db)
    with pytest.raises(ValueError, match="unknown outbox kind"):
        await store.record_posts([alert(10, "s1"), alert(11, "s1", outbox_kind="bogus")], now=NOW)
    assert await store.alerts_of(["s1"]) == []
    assert await OutboxStore(db).rows() == []
