"""Scale-out end to end (issue 12, point 9): two gateway processes (shards 0 and 1 of 2) and two
worker processes on one PostgreSQL database, driven through the Discord emulator.

One set-up runs the whole story, because each step needs the state the one before left (the
subscriptions, the stories in flight, the workers still alive):

1. commands in guilds of both shards are answered once each;
2. 200 stories over 20 feeds and 10 channels (five channels per shard's guild) are each posted
   exactly once, in publication order per feed in every channel, while
3. a worker is killed (SIGKILL) mid-delivery (the emulator creates its message but never
   answers, so the row stays leased to the dead process) and another mid-poll (its feed's check
   hangs, the feed leased for 15 minutes): the rows and the feed are taken over once the dead
   one's heartbeat expires (``run.takeover_s``), not when their leases (2 and 15 minutes) run out;
   the resent row carries the same nonce, so Discord (the emulator) keeps one message;
4. the leader of the digest election (``service_leases``, name ``digests``) is killed two seconds
   before a digest is due: the other worker takes over and the digest is posted once, late by at
   most the takeover bound.

Times are measured and printed (``-s`` shows them); the asserts only bound them generously
(takeover_s + 20 s), far below the leases a takeover must not wait for.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.delivery.policy import nonce_for
from tests.e2e.feed_support import FAST_POLLING, wait_until
from tests.e2e.harness import Harness, merge
from tests.e2e.test_roles import WorkerProcess, pg_url  # noqa: F401 (pg_url: a fixture)
from tests.e2e.test_sharding import SHARDS, Newsrooms, assert_answered_once, run_fetch, two_shard_world
from tests.emulator import Channel, Emulator, Member, Perm
from tests.feedserver import FeedServer, ServedFeed, item

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

TAKEOVER_S = 6
#: What a takeover may take here: the heartbeat's expiry plus a loaded machine's slack. The leases
#: a takeover must not wait for are 2 minutes (outbox rows) and 15 minutes (a feed's check).
BOUND_S = TAKEOVER_S + 20
FEED_COUNT = 20
CHANNELS_PER_GUILD = 5
STORIES_PER_FEED = 10
ROUND = 5  # stories per feed published at once


# -- the set-up -----------------------------------------------------------------------------------


@dataclass
class Wire:
    """A served feed and the channel it is subscribed in."""

    number: int
    served: ServedFeed
    channel: Channel

    @property
    def path(self) -> str:
        return self.served.path

    def title(self, n: int) -> str:
        return f"Wire {self.number:02d} story {n:02d}"

    def publish(self, numbers: Iterable[int]) -> None:
        self.served.publish(
            *(
                item(
                    n,
                    guid=f"wire{self.number}-{n}",
                    link=f"https://wire{self.number}.example/story/{n}",
                    title=self.title(n),
                )
                for n in numbers
            )
        )


@dataclass
class Desk:
    """Two gateway processes and the worker processes, on one emulator and one database."""

    emu: Emulator
    feeds: FeedServer
    rooms: Newsrooms
    admins: dict[int, Member]
    """By guild id: a member who may run /feed add and /digest there."""
    channels: list[Channel]
    gateways: list[Harness]
    worker_config: dict[str, dict[str, Any]]
    workdir: Path
    clock_file: Path
    db: asyncpg.Connection
    workers: dict[str, WorkerProcess] = field(default_factory=dict)
    """The live workers, by instance id."""
    dead: list[WorkerProcess] = field(default_factory=list)
    wires: list[Wire] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)

    async def start_worker(self, name: str) -> WorkerProcess:
        worker = WorkerProcess(
            self.workdir, merge(self.worker_config, {"run": {"instance_id": name}}), name=name
        )
        await worker.start()
        self.workers[name] = worker
        return worker

    async def wait_joined(self, name: str) -> None:
        worker = self.workers[name]
        await wait_until(lambda: f"joined instance={name} " in worker.log(), timeout_s=45, what=f"{name} up")

    async def kill(self, name: str) -> float:
        """SIGKILL the worker ``name``; the monotonic time of its death."""
        worker = self.workers.pop(name)
        await worker.kill()
        self.dead.append(worker)
        return time.monotonic()

    def bot_messages(self, channel: Channel) -> list[dict[str, Any]]:
        return [m for m in self.emu.channel_messages(channel) if m["author"].get("bot")]

    def titles(self, channel: Channel) -> list[str]:
        return [m["embeds"][0]["title"] for m in self.bot_messages(channel) if m.get("embeds")]

    def all_titles(self) -> Counter[str]:
        return Counter(t for channel in self.channels for t in self.titles(channel))

    def describe(self) -> str:
        logs = "\n".join(
            f"--- {w.log_path.name} ---\n{w.log()[-2500:]}" for w in [*self.workers.values(), *self.dead]
        )
        return f"{self.gateways[0].failure_report()}\n{logs}"


def scale_world() -> tuple[Newsrooms, dict[int, Member], list[Channel]]:
    """A guild on each shard, each with five wire channels and an admin."""
    rooms = two_shard_world()
    world = rooms.default.world
    admins = {rooms.default.guild.id: rooms.default.admin}
    channels: list[Channel] = []
    for shard in range(SHARDS):
        guild = world.guilds[rooms.rooms[shard][0].guild_id]
        if guild.id != rooms.default.guild.id:
            # The bureau's bot role may read history (the dispatcher's look-up of a late resend).
            for role in guild.roles.values():
                if role.managed:
                    role.permissions |= Perm.READ_MESSAGE_HISTORY
            admin_role = guild.add_role("admin", Perm.ADMINISTRATOR)
            admins[guild.id] = guild.add_member(world.add_user(f"admin-{shard}"), [admin_role])
        channels += [guild.add_text_channel(f"wire-{shard}-{n}") for n in range(CHANNELS_PER_GUILD)]
    return rooms, admins, channels


@contextlib.asynccontextmanager
async def scale_out(pg: str, feeds: FeedServer, workdir: Path) -> AsyncIterator[Desk]:
    rooms, admins, channels = scale_world()
    clock_file = workdir / "clock"
    base: dict[str, dict[str, Any]] = merge(
        dict(FAST_POLLING),
        {
            "database": {"url": pg},
            "run": {"takeover_s": TAKEOVER_S},
            "feeds": {"first_post_count": 0},  # the 200 stories are the posts, nothing else
            "stories": {"idle_s": 0.5},
            "digests": {"tick_s": 0.5},
            "testing": {"clock_file": str(clock_file)},
        },
    )
    db = await asyncpg.connect(pg.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    async with Emulator(world=rooms.default) as emu:
        gateways = []
        for shard in range(SHARDS):
            (workdir / f"shard{shard}").mkdir()
            overrides = merge(
                base, {"run": {"roles": "gateway"}, "discord": {"shard_count": SHARDS, "shard_ids": [shard]}}
            )
            gateways.append(Harness(emu, workdir / f"shard{shard}", overrides))
        worker_config = gateways[0].config()
        worker_config["discord"] = {
            k: v for k, v in worker_config["discord"].items() if not k.startswith("shard")
        }
        desk = Desk(emu, feeds, rooms, admins, channels, gateways, worker_config, workdir, clock_file, db)
        try:
            await asyncio.gather(
                *(
                    bot.start_bot(ready=lambda shard=shard: bool(emu.gateway.sessions_of(shard)))
                    for shard, bot in enumerate(gateways)
                ),
                desk.start_worker("worker-a"),
                desk.start_worker("worker-b"),
            )
            await wait_until(lambda: emu.command_syncs >= 1, what="the commands synced by shard 0")
            await desk.wait_joined("worker-a")
            await desk.wait_joined("worker-b")
            yield desk
        finally:
            print("\nscale-out figures:", {k: round(v, 2) for k, v in desk.figures.items()})
            stops = [w.stop() for w in desk.workers.values()] + [g.stop_bot() for g in gateways]
            codes = await asyncio.gather(*stops, return_exceptions=True)
            for w in desk.dead:
                await w.kill()
            await db.close()
    assert all(code in (0, None) for code in codes), (codes, desk.describe())


# -- the steps --------------------------------------------------------------------------------------


async def commands_are_answered_once(desk: Desk) -> None:
    for shard in (0, 1, 1, 0):
        assert_answered_once(desk.emu, await run_fetch(desk.emu, desk.rooms, shard))
    assert desk.emu.gateway.refused_identifies == []
    # Only the gateway processes open the gateway, one session per shard.
    assert sorted(r.shard for r in desk.emu.gateway.identify_log) == [(0, 2), (1, 2)]


async def subscribe_wires(desk: Desk) -> None:
    """20 feeds, two per channel, each added with /feed add by the channel's guild's admin."""
    for number in range(FEED_COUNT):
        channel = desk.channels[number % len(desk.channels)]
        served = desk.feeds.add_feed(f"/wire{number}.xml", title=f"Wire {number:02d}", items=[])
        desk.wires.append(Wire(number, served, channel))

    async def add(wire: Wire) -> None:
        result = await desk.emu.invoke(
            "feed add",
            {"url": desk.feeds.url(wire.path), "channel": wire.channel},
            user=desk.admins[wire.channel.guild_id],
            channel=wire.channel,
            timeout_s=30,
        )
        assert result.errors == [] and result.ephemeral, result

    for batch in range(0, FEED_COUNT, 5):
        await asyncio.gather(*(add(w) for w in desk.wires[batch : batch + 5]))
    subscribed = await desk.db.fetchval("SELECT count(*) FROM subscriptions")
    assert subscribed == FEED_COUNT


async def created_but_unmarked(desk: Desk) -> dict[int, asyncpg.Record]:
    """The outbox rows still pending and leased whose nonce is already on a message, by id."""
    nonces = {m.get("nonce") for c in desk.channels for m in desk.bot_messages(c)}
    rows = await desk.db.fetch(
        "SELECT id, dedup_key, channel_id, lease_owner FROM outbox"
        " WHERE status = 'pending' AND lease_owner IS NOT NULL"
    )
    return {r["id"]: r for r in rows if nonce_for(r["id"], r["dedup_key"]) in nonces}


async def withheld_row(desk: Desk) -> asyncpg.Record:
    """The row whose message the emulator created without answering: the one that stays created
    but unmarked (the others are marked sent within milliseconds of their answer)."""
    seen = await created_but_unmarked(desk)
    for _ in range(100):
        await asyncio.sleep(1.0)
        now = await created_but_unmarked(desk)
        stable = [now[i] for i in now.keys() & seen.keys()]
        if len(stable) == 1:
            return stable[0]
        seen = now
    raise AssertionError(f"no single row carries the withheld message: {seen}")


async def kill_a_worker_mid_delivery(desk: Desk) -> None:
    """Round 1 (stories 1-5 of every feed): one message is created but never answered; the worker
    sending it dies (with whatever else it had in flight) and its rows move to another."""
    desk.emu.withhold_create_answers(1)
    for wire in desk.wires:
        wire.publish(range(1, ROUND + 1))
    await wait_until(lambda: desk.emu.unanswered_creates == 0, timeout_s=30, what="a withheld message")
    row = await withheld_row(desk)
    owner, channel_id, nonce = row["lease_owner"], row["channel_id"], nonce_for(row["id"], row["dedup_key"])
    assert owner in desk.workers, (owner, list(desk.workers))
    channel = next(c for c in desk.channels if c.id == channel_id)
    posted_before = len(desk.titles(channel))
    # The rows it dies holding are leased for minutes (the send timeout's lease), not seconds.
    held = await desk.db.fetchval(
        "SELECT count(*) FROM outbox WHERE status = 'pending' AND lease_owner = $1"
        " AND lease_until > now() + interval '60 seconds'",
        owner,
    )
    assert held >= 1

    killed_at = await desk.kill(owner)
    desk.figures["delivery: rows leased by the killed worker"] = held

    async def row_sent() -> bool:
        status = await desk.db.fetchval("SELECT status FROM outbox WHERE id = $1", row["id"])
        return bool(status == "sent")

    deadline = killed_at + 90
    while not await row_sent():
        assert time.monotonic() < deadline, f"row {row['id']} never taken over\n{desk.describe()}"
        await asyncio.sleep(0.1)
    desk.figures["delivery: row taken over s"] = time.monotonic() - killed_at
    await wait_until(
        lambda: len(desk.titles(channel)) > posted_before, timeout_s=30, what="the channel's next post"
    )
    desk.figures["delivery: next post in the channel s"] = time.monotonic() - killed_at

    assert desk.all_titles().most_common(1)[0][1] == 1, desk.all_titles().most_common(3)  # no repeat
    # Resent under the same nonce (at least once, besides the withheld request), kept once.
    resent = [
        r
        for r in desk.emu.recorder.calls("POST", f"/channels/{channel_id}/messages")
        if isinstance(r.body, dict) and r.body.get("nonce") == nonce and r.at > killed_at - 1
    ]
    assert resent, "the taken-over row was never sent again"
    assert sum(m.get("nonce") == nonce for m in desk.bot_messages(channel)) == 1
    assert desk.figures["delivery: row taken over s"] < BOUND_S, desk.figures
    # Two workers again, for what follows; started only now, because a process starting on the
    # same host frees the rows of a dead pid at once and the bound would not be measured.
    await desk.start_worker("worker-c")


async def kill_a_worker_mid_poll(desk: Desk) -> None:
    """Round 2 (stories 6-10): one feed's check hangs; the worker checking it dies; another checks
    the feed once the dead one's heartbeat expired, not after the 15-minute lease."""
    await desk.wait_joined("worker-c")
    slow = desk.wires[0]
    desk.feeds.slow(slow.path, 120)
    hits = desk.feeds.hits[slow.path]
    for wire in desk.wires:
        wire.publish(range(ROUND + 1, STORIES_PER_FEED + 1))

    async def hung_owner() -> str | None:
        if desk.feeds.hits[slow.path] <= hits:
            return None
        owner: str | None = await desk.db.fetchval(
            "SELECT lease_owner FROM feeds WHERE url = $1", desk.feeds.url(slow.path)
        )
        return owner

    owner = None
    for _ in range(300):
        owner = await hung_owner()
        if owner is not None:
            break
        await asyncio.sleep(0.1)
    assert owner in desk.workers, (owner, list(desk.workers), desk.describe())
    leased_for = await desk.db.fetchval(
        "SELECT extract(epoch FROM lease_until - now()) FROM feeds WHERE url = $1", desk.feeds.url(slow.path)
    )
    assert leased_for > 600, leased_for  # the check's own lease: 15 minutes
    killed_at = await desk.kill(owner)
    hits = desk.feeds.hits[slow.path]
    desk.feeds.heal(slow.path)

    await wait_until(lambda: desk.feeds.hits[slow.path] > hits, timeout_s=90, what="the feed checked again")
    desk.figures["poll: feed checked again s"] = time.monotonic() - killed_at

    await wait_until(
        lambda: slow.title(ROUND + 1) in desk.titles(slow.channel),
        timeout_s=90,
        what="the dead worker's feed checked by another",
    )
    desk.figures["poll: its story posted s"] = time.monotonic() - killed_at
    assert desk.figures["poll: feed checked again s"] < BOUND_S, desk.figures
    # Its posts then queue behind the channel's others, at one worker's share of the rate limits
    # (5 posts per 5 s per channel): a looser bound, still far below the 15-minute lease.
    assert desk.figures["poll: its story posted s"] < 60, desk.figures
    await desk.start_worker("worker-d")


async def every_story_posted_once_in_order(desk: Desk) -> None:
    expected = {wire.title(n) for wire in desk.wires for n in range(1, STORIES_PER_FEED + 1)}
    assert len(expected) == FEED_COUNT * STORIES_PER_FEED == 200
    await wait_until(lambda: set(desk.all_titles()) >= expected, timeout_s=120, what="all 200 stories")
    # Every row marked: one whose message a killed worker created is marked by its taker-over.
    for _ in range(600):
        if not await desk.db.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'"):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(2)  # a repeat would come now, if at all
    posted = desk.all_titles()
    repeated = {t: n for t, n in posted.items() if n > 1}
    assert repeated == {}, repeated
    assert set(posted) == expected, set(posted) ^ expected
    for channel in desk.channels:
        titles = desk.titles(channel)
        for wire in (w for w in desk.wires if w.channel is channel):
            numbers = [int(t.split()[-1]) for t in titles if t.startswith(wire.title(0)[:8])]
            assert numbers == list(range(1, STORIES_PER_FEED + 1)), (channel.name, wire.number, titles)
    counts = dict(await desk.db.fetch("SELECT status, count(*) FROM outbox GROUP BY status"))
    assert counts == {"sent": 200}, counts

    # The story assigner's duty moved too: a live worker leads it and every item is grouped.
    for _ in range(300):
        owner = await desk.db.fetchval("SELECT owner FROM service_leases WHERE name = 'story_assigner'")
        ungrouped = await desk.db.fetchval("SELECT count(*) FROM feed_items WHERE story_id IS NULL")
        if owner in desk.workers and ungrouped == 0:
            break
        await asyncio.sleep(0.1)
    assert owner in desk.workers and ungrouped == 0, (owner, list(desk.workers), ungrouped)


async def kill_the_digest_leader_before_due(desk: Desk) -> None:
    """A daily digest due at D; the leader of the digest election is killed at D - 2 s: the
    digest is posted once, after D and within the takeover bound."""
    await desk.wait_joined("worker-d")
    general, admin = desk.rooms.default.general, desk.rooms.default.admin

    async def leader() -> tuple[str, int] | None:
        row = await desk.db.fetchrow("SELECT owner, term FROM service_leases WHERE name = 'digests'")
        return None if row is None or row["owner"] is None else (row["owner"], row["term"])

    # A live worker leads (the dead ones' lead was taken over).
    for _ in range(300):
        lead = await leader()
        if lead is not None and lead[0] in desk.workers:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"no live worker leads the digests: {await leader()}")

    # The clock goes back (never forward: a jump forward would expire every heartbeat at once) to
    # 20 s before the start of the current minute, the digest's due time.
    due = datetime.now(UTC).replace(second=0, microsecond=0)
    desk.clock_file.write_text((due - timedelta(seconds=20)).isoformat())
    due_at = time.monotonic() + 20  # when "now" reaches the due time, on this test's clock
    result = await desk.emu.invoke(
        "digest schedule",
        {"frequency": "daily", "time": due.strftime("%H:%M"), "timezone": "UTC", "channel": general},
        user=admin,
        channel=general,
    )
    assert result.ephemeral and "every day" in result.text, result.text

    def digests() -> list[dict[str, Any]]:
        return [
            m
            for m in desk.bot_messages(general)
            if re.search("digest", str(m["embeds"][0].get("title") if m.get("embeds") else ""), re.I)
            or "No new stories" in str(m)
        ]

    await asyncio.sleep(max(0.0, due_at - 2 - time.monotonic()))
    lead = await leader()
    assert lead is not None and lead[0] in desk.workers, (lead, list(desk.workers))
    assert digests() == [], "posted before it was due"
    killed_at = await desk.kill(lead[0])
    await wait_until(lambda: len(digests()) >= 1, timeout_s=60, what="the digest")
    posted_at = time.monotonic()
    desk.figures["digest late s"] = posted_at - due_at
    desk.figures["digest after the kill s"] = posted_at - killed_at
    await asyncio.sleep(3)
    assert len(digests()) == 1, digests()
    new_lead = await leader()
    assert new_lead is not None and new_lead[0] in desk.workers and new_lead[1] > lead[1], (lead, new_lead)
    assert -1.0 < desk.figures["digest late s"] < BOUND_S, desk.figures


# -- the test ---------------------------------------------------------------------------------------


async def test_two_gateways_and_two_workers_share_the_work_through_kills(
    pg_url: str,  # noqa: F811 (the fixture imported above)
    feeds: FeedServer,
    tmp_path: Path,
) -> None:
    async with scale_out(pg_url, feeds, tmp_path) as desk:
        await commands_are_answered_once(desk)
        await subscribe_wires(desk)
        await kill_a_worker_mid_delivery(desk)
        await kill_a_worker_mid_poll(desk)
        await every_story_posted_once_in_order(desk)
        await kill_the_digest_leader_before_due(desk)
        # Commands still answered once in both shards after all that.
        await commands_are_answered_once(desk)
