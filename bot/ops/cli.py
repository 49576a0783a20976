"""The operator's commands: ``newsdesk feeds|outbox|stats|backup``, without Discord.

They work on the configured database (``database.url``), while the bot runs or not: what they
change, the bot's workers act on at their next look (a resumed feed is due at once; a retried
post is claimable at once).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.clock import clock_from
from bot.config import Settings
from bot.errors import NewsdeskError
from bot.ops import report
from bot.storage import Database
from bot.storage.feeds import FeedStore
from bot.storage.operator import FEED_STATES, POST_STATES, OperatorStore, Selection
from bot.storage.outbox import KINDS

PAUSE_REASON = "paused by the operator"

Handler = Callable[[argparse.Namespace, Settings], int]


def add_operator_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``feeds``, ``outbox``, ``stats`` and ``backup`` to the ``newsdesk`` parser."""

    def command(group: Any, name: str, help: str, handler: Handler) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, help=help, parents=[common])
        sub.set_defaults(handler=handler)
        return sub

    def group(name: str, help: str) -> Any:
        parser = commands.add_parser(name, help=help, parents=[common])
        return parser.add_subparsers(title="commands", metavar="COMMAND")

    feeds = group("feeds", "subscriptions of every server (without Discord)")
    _filters(command(feeds, "list", "list subscriptions", cmd_feeds_list), FEED_STATES, ids=False, json=True)
    pause = _filters(command(feeds, "pause", "pause subscriptions", cmd_feeds_pause), FEED_STATES)
    pause.add_argument("--reason", default=PAUSE_REASON, help="shown by /feed list")
    _filters(
        command(feeds, "resume", "resume subscriptions (failures forgotten)", cmd_feeds_resume), FEED_STATES
    )
    remove = _filters(command(feeds, "remove", "delete subscriptions", cmd_feeds_remove), FEED_STATES)
    remove.add_argument("--yes", action="store_true", help="needed to remove by filter, without ids")

    outbox = group("outbox", "posts waiting, stuck or failed (without Discord)")
    listing = _filters(
        command(outbox, "list", "list posts (default: pending and failed)", cmd_outbox_list),
        POST_STATES,
        ids=False,
        json=True,
    )
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    for name, help, handler in (
        ("retry", "send posts again now (and release their channels' holds)", cmd_outbox_retry),
        ("drop", "give posts up (cancelled, never sent)", cmd_outbox_drop),
    ):
        _filters(command(outbox, name, help, handler), POST_STATES)

    stats = command(commands, "stats", "per-server figures (feeds by state, posts, waiting)", cmd_stats)
    stats.add_argument("--guild", type=int, metavar="ID", help="this server only")
    stats.add_argument("--json", action="store_true", help="print JSON")

    backup = command(commands, "backup", "an online, consistent copy of the SQLite database", cmd_backup)
    backup.add_argument("path", help="the file to write (mode 0600)")
    backup.add_argument("--force", action="store_true", help="replace PATH if it exists")


def _filters(
    parser: argparse.ArgumentParser, states: Sequence[str], *, ids: bool = True, json: bool = False
) -> argparse.ArgumentParser:
    if ids:
        parser.add_argument("ids", nargs="*", type=int, metavar="ID", help="these ids")
    parser.add_argument("--guild", type=int, metavar="ID", help="of this server")
    parser.add_argument("--channel", type=int, metavar="ID", help="of this channel")
    parser.add_argument("--state", choices=states, help="in this state")
    if states is POST_STATES:
        parser.add_argument("--kind", choices=sorted(KINDS), help="of this kind")
    if json:
        parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _selection(args: argparse.Namespace, *, required: bool = False) -> Selection:
    selection = Selection(
        ids=tuple(getattr(args, "ids", ()) or ()),
        guild_id=args.guild,
        channel_id=args.channel,
        state=args.state,
        kind=getattr(args, "kind", None),
    )
    if required and selection.empty:
        kinds = ", --kind" if hasattr(args, "kind") else ""
        raise NewsdeskError(f"name them by id, or by --guild, --channel, --state{kinds}")
    return selection


def _run(settings: Settings, work: Callable[[Database, datetime], Awaitable[int]]) -> int:
    async def main() -> int:
        db = Database(settings.database.url, echo=settings.database.echo)
        try:
            if await db.current_revision() is None:
                raise NewsdeskError(
                    f"no newsdesk database at {db.display_url} (newsdesk db upgrade makes one)"
                )
            return await work(db, clock_from(settings.testing.clock_file)())
        finally:
            await db.close()

    _refuse_missing_sqlite(settings.database.url)
    return asyncio.run(main())


def _refuse_missing_sqlite(url: str) -> None:
    # Opening a missing SQLite file would create an empty database there.
    if url.startswith("sqlite"):
        from bot.ops.backup import sqlite_path

        sqlite_path(url)


def _emit(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")


# --- feeds --------------------------------------------------------------------------------


def cmd_feeds_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(db: Database, now: datetime) -> int:
        found = await OperatorStore(db).subscriptions(_selection(args))
        _emit(report.subscriptions_json(found) if args.json else report.subscriptions_text(found))
        return 0

    return _run(settings, work)


def cmd_feeds_pause(args: argparse.Namespace, settings: Settings) -> int:
    async def work(db: Database, now: datetime) -> int:
        store = OperatorStore(db)
        found = await store.subscriptions(_selection(args, required=True))
        paused = await store.pause([s.subscription.id for s in found], args.reason) if found else 0
        _emit(f"paused {paused} of {len(found)} subscriptions selected (the others were paused already)")
        return 0

    return _run(settings, work)


def cmd_feeds_resume(args: argparse.Namespace, settings: Settings) -> int:
    async def work(db: Database, now: datetime) -> int:
        found = await OperatorStore(db).subscriptions(_selection(args, required=True))
        feeds = FeedStore(db)
        resumed = 0
        for status in found:
            if status.paused or status.failing:
                sub = status.subscription
                resumed += await feeds.resume(sub.guild_id, sub.id, now=now)
        _emit(f"resumed {resumed} of {len(found)} subscriptions selected (their feeds are due now)")
        return 0

    return _run(settings, work)


def cmd_feeds_remove(args: argparse.Namespace, settings: Settings) -> int:
    async def work(db: Database, now: datetime) -> int:
        selection = _selection(args, required=True)
        if not selection.ids and not args.yes:
            raise NewsdeskError("removing by filter deletes every subscription it matches: add --yes")
        found = await OperatorStore(db).subscriptions(selection)
        feeds = FeedStore(db)
        removed = 0
        for status in found:
            removed += await feeds.remove_subscription(status.subscription.guild_id, status.subscription.id)
        _emit(f"removed {removed} subscriptions")
        return 0

    return _run(settings, work)


# --- outbox -------------------------------------------------------------------------------


def cmd_outbox_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(db: Database, now: datetime) -> int:
        posts = await OperatorStore(db).posts(_selection(args), now=now, limit=max(1, args.limit))
        _emit(report.posts_json(posts, now) if args.json else report.posts_text(posts, now))
        return 0

    return _run(settings, work)


def cmd_outbox_retry(args: argparse.Namespace, settings: Settings) -> int:
    async def work(db: Database, now: datetime) -> int:
        store = OperatorStore(db)
        posts = await store.posts(_selection(args, required=True), now=now)
        retried, released = await store.retry([p.id for p in posts], now=now) if posts else (0, 0)
        _emit(f"{retried} posts to send again now; {released} held channels released")
        return 0

    return _run(settings, work)


def cmd_outbox_drop(args: argparse.Namespace, settings: Settings) -> int:
    async def work(db: Database, now: datetime) -> int:
        store = OperatorStore(db)
        posts = await store.posts(_selection(args, required=True), now=now)
        dropped = await store.drop([p.id for p in posts]) if posts else 0
        _emit(f"dropped {dropped} posts (they will not be sent)")
        return 0

    return _run(settings, work)


# --- stats and backup ---------------------------------------------------------------------


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    async def work(db: Database, now: datetime) -> int:
        figures = await OperatorStore(db).figures(now=now, guild_id=args.guild)
        _emit(report.figures_json(figures, now) if args.json else report.figures_text(figures, now))
        return 0

    return _run(settings, work)


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ops.backup import backup

    result = backup(settings.database.url, Path(args.path), force=args.force)
    _emit(
        f"backed up {result.source} to {result.target} ({result.size} bytes, {result.pages} pages, checked)"
    )
    return 0
