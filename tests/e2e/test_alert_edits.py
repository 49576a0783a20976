"""Breaking-alert edits go through the outbox: the real bot, the Discord emulator, local feeds.

The alert service queues an edit row (``Destination(edit_of=...)``) when more outlets join; the
outbox dispatcher sends it as a PATCH of the alert's message, retrying Discord's 5xx like a post,
and a bot killed while the edit is queued edits once after its restart.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.feed_support import FAST_POLLING, subscribe, wait_until
from tests.e2e.harness import Harness
from tests.e2e.test_digests_alerts import OUTLETS, add_outlets, bot_messages, quake
from tests.feedserver import FeedServer

pytestmark = [pytest.mark.e2e, pytest.mark.bot_config({**FAST_POLLING, "stories": {"idle_s": 0.5}})]


def query(database: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows of the bot's SQLite database, read-only."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, params).fetchall()]


def outbox_rows(database: Path, suffix: str) -> list[dict[str, Any]]:
    """The bot's outbox rows whose dedup key ends with ``suffix``."""
    columns = "dedup_key, kind, status, attempts, message_id, destination, last_error"
    return query(database, f"SELECT {columns} FROM outbox WHERE dedup_key LIKE ? ORDER BY id", f"%{suffix}")


def footers(message: dict[str, Any] | None) -> str:
    return " ".join((e.get("footer") or {}).get("text", "") for e in (message or {}).get("embeds", ()))


async def breaking_alert(newsdesk: Harness, feeds: FeedServer) -> tuple[list[Any], dict[str, Any]]:
    """Four outlets followed, breaking alerts on in #general, three of them report: the alert."""
    served = add_outlets(feeds, 4)
    news, general = newsdesk.emu.default.news, newsdesk.general
    for outlet in OUTLETS:
        await subscribe(newsdesk, feeds.url(f"/{outlet}.xml"), news)
    await wait_until(lambda: len(bot_messages(newsdesk, news)) == 4, what="the first items")
    await newsdesk.invoke("alerts breaking", {"state": "on", "channel": general}, user=newsdesk.admin)
    for n in range(3):
        served[n].publish(quake(n, OUTLETS[n]))
    await wait_until(lambda: len(bot_messages(newsdesk, general)) == 1, timeout_s=40, what="a breaking alert")
    [alert] = bot_messages(newsdesk, general)
    assert footers(alert) == "3 outlets so far"
    return served, alert


def edited_with_four(newsdesk: Harness, alert: dict[str, Any]) -> Callable[[], bool]:
    def check() -> bool:
        return footers(newsdesk.emu.messages.get(newsdesk.general.id, int(alert["id"]))) == "4 outlets so far"

    return check


async def test_an_alert_edit_is_an_outbox_row_sent_as_a_patch_and_retried_on_5xx(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    served, alert = await breaking_alert(newsdesk, feeds)
    general = newsdesk.general.id
    newsdesk.inject(f"PATCH /channels/{general}/messages/{alert['id']}", 503, count=1)

    served[3].publish(quake(3, OUTLETS[3]))
    await wait_until(
        edited_with_four(newsdesk, alert), timeout_s=40, what="the alert edited for a fourth outlet"
    )

    patches = newsdesk.emu.recorder.calls("PATCH", f"/channels/{general}/messages/{alert['id']}")
    assert [p.status for p in patches] == [503, 200]  # the dispatcher retried Discord's 503
    assert patches[-1].body.get("allowed_mentions") == {"parse": []}
    [row] = outbox_rows(newsdesk.database_path, ":edit:4")
    assert (row["kind"], row["status"], row["attempts"]) == ("alert", "sent", 2)
    assert row["message_id"] == int(alert["id"])
    destination = row["destination"]
    post_key = json.loads(destination)["edit_of"] if isinstance(destination, str) else destination["edit_of"]
    assert row["dedup_key"] == f"{post_key}:edit:4" and post_key.startswith("alert:")
    assert len(bot_messages(newsdesk, newsdesk.general)) == 1  # edited, never posted again
    log = newsdesk.log_path.read_text(encoding="utf-8")
    assert "alert edit queued" in log and "attempt 1 failed, retrying" in log


async def test_a_bot_killed_while_an_alert_edit_is_queued_edits_once_after_restart(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    served, alert = await breaking_alert(newsdesk, feeds)
    general = newsdesk.general.id
    route = f"/channels/{general}/messages/{alert['id']}"
    outage = newsdesk.inject(f"PATCH {route}", 503, count=1000)  # Discord refuses every edit

    served[3].publish(quake(3, OUTLETS[3]))
    await wait_until(lambda: outage.hits >= 1, timeout_s=40, what="the edit tried once")
    assert [r["status"] for r in outbox_rows(newsdesk.database_path, ":edit:4")] == ["pending"]
    assert await newsdesk.kill_bot() == -9

    outage.count = outage.hits  # Discord is back
    await newsdesk.start_bot()
    await wait_until(edited_with_four(newsdesk, alert), timeout_s=40, what="the edit after the restart")
    await wait_until(
        lambda: [r["status"] for r in outbox_rows(newsdesk.database_path, ":edit:4")] == ["sent"],
        what="the edit row marked sent",
    )
    patches = newsdesk.emu.recorder.calls("PATCH", route)
    assert [p.status for p in patches if p.status == 200] == [200]  # edited once
    assert len(bot_messages(newsdesk, newsdesk.general)) == 1


async def test_an_edit_of_a_deleted_alert_is_given_up_and_the_channel_is_not_held(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    served, alert = await breaking_alert(newsdesk, feeds)
    general = newsdesk.general.id
    assert newsdesk.emu.messages.delete(general, int(alert["id"])) is not None  # a moderator deletes it

    served[3].publish(quake(3, OUTLETS[3]))
    await wait_until(
        lambda: [r["status"] for r in outbox_rows(newsdesk.database_path, ":edit:4")] == ["failed"],
        timeout_s=40,
        what="the edit given up",
    )
    [row] = outbox_rows(newsdesk.database_path, ":edit:4")
    assert "deleted" in (row["last_error"] or "") and row["attempts"] == 1
    [patch] = newsdesk.emu.recorder.calls("PATCH", f"/channels/{general}/messages/{alert['id']}")
    assert patch.status == 404
    assert query(newsdesk.database_path, "SELECT channel_id FROM outbox_holds") == []
    assert bot_messages(newsdesk, newsdesk.general) == []  # not posted again either
