"""Breaking alerts replayed over a day of feed traffic: precision and recall, today's rule beside ours.

    python3 -m bench.alerts_bench [--data DIR] [--seeds 1 2 3] [--min-sources 3] [--window 60]

The day is built from the shared labelled headlines (``../shared/data/uci-news-aggregator-head``,
beside the repository): each story starts at a random time of the day and its articles follow
in a burst or a slow burn; half the stories keep only a few articles (the long tail of small
stories). Each host is a feed polled every 10 minutes; some feeds have no site link (named by
their title) and some give no dates. Then what fools a naive count:

* **mirrors**: publishers with several domains (bbc.co.uk and bbc.com...) post on both;
* **wire reprints**: some articles are reprinted word for word by member papers;
* **recurring titles**: thirty outlets post "Today's weather", "Daily crossword"... every morning;
* **an OPML import** at 15:00: 25 new feeds whose undated backlog is all first seen at once.

Truth: a story truly had K outlets within the window when K distinct outlets (registrable
domains; a mirror is its publisher, a reprint its original's outlet, recurring titles and the
import's undated backlog nothing) published it within ``window`` minutes; it is truly breaking
from the moment the K-th of them published. The bot's real grouper assigns the items as they are
first seen (5-minute ticks) and each rule decides on the stories each tick touched, one alert per
story. An alert is right when its story's main labelled story is truly breaking by then and had no
alert yet; precision is right alerts over alerts, recall the truly breaking stories alerted.
"today" is the rule before issue 15 (``is_breaking`` on feed outlets, undated items at their
first-seen time), still in ``bot.alerts.breaking``, over today's grouping; "ours" is
``decide_alert``, over the grouping with recurring titles kept out (``bot.stories.batch``).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tld

from bot.alerts.breaking import decide_alert, is_breaking
from bot.alerts.types import AlertArticle, AlertSettings, AlertStory
from bot.outlets import outlet_name
from bot.recurring import is_recurring_title
from bot.stories import StoryGrouper, StoryItem

# The shared data sits beside the repository (../shared), wherever it is checked out.
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "uci-news-aggregator-head"
DAY = datetime(2014, 3, 10, tzinfo=UTC)
POLL = timedelta(minutes=10)
TICK = timedelta(minutes=5)
IMPORT_AT = DAY + timedelta(hours=15)
MIRRORS = {
    "bbc.co.uk": "bbc.com",
    "theguardian.com": "guardian.co.uk",
    "reuters.com": "reuters.co.uk",
    "cnn.com": "cnn.it",
    "wsj.com": "wsj.net",
    "washingtonpost.com": "wapo.st",
    "aljazeera.com": "aljazeera.net",
    "dw.de": "dw.com",
    "euronews.com": "euronews.net",
    "npr.org": "n.pr",
}
RECURRING = (
    "Today's weather",
    "Daily crossword",
    "Morning briefing",
    "Live updates",
    "Horoscope for March 10",
)


@dataclass(frozen=True, slots=True)
class Feed:
    site_url: str | None
    title: str
    url: str
    #: Minutes past the hour of its polls (each feed is polled every POLL).
    phase: float
    #: Whether its items carry a publication date.
    dated: bool = True
    #: The source as the bot names it (bot.storage.stories: outlet_name).
    source: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", outlet_name(self.site_url, self.title, self.url))

    def seen_after(self, published: datetime) -> datetime:
        """The first poll after ``published``."""
        first = DAY - timedelta(days=1) + timedelta(minutes=self.phase)
        polls = (published - first) // POLL + 1
        return first + polls * POLL


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    feed: Feed
    title: str
    published: datetime | None
    first_seen: datetime
    gold: str
    #: The true outlet when the item is one (None: a recurring title, an undated import).
    outlet: str | None
    imported: bool = False

    @property
    def when(self) -> datetime:
        """As the bot stores it: published, capped at first seen; else first seen."""
        return self.first_seen if self.published is None else min(self.published, self.first_seen)


class Traffic:
    """Builds a day of items from the labelled headlines."""

    def __init__(self, rows: list[dict[str, str]], rng: random.Random) -> None:
        self.rows, self.rng = rows, rng
        self.items: list[Item] = []
        self.feeds: dict[str, Feed] = {}

    def feed(self, key: str, site_url: str | None, title: str, url: str, *, dated: bool = True) -> Feed:
        if key not in self.feeds:
            self.feeds[key] = Feed(site_url, title, url, self.rng.uniform(0, 10), dated)
        return self.feeds[key]

    def host_feed(self, row: dict[str, str]) -> Feed:
        host, name = row["hostname"], row["publisher"].replace("\\", "")
        if host not in self.feeds:
            # One feed in five has no site link (named by its title); one in ten gives no dates.
            site = None if self.rng.random() < 0.2 else f"https://{host}/"
            dated = self.rng.random() >= 0.1
            return self.feed(host, site, name, f"https://{host}/rss.xml", dated=dated)
        return self.feeds[host]

    def add(self, feed: Feed, title: str, published: datetime, gold: str, outlet: str | None) -> None:
        """An item as a poll of ``feed`` first sees it (undated if the feed gives no dates)."""
        seen = feed.seen_after(published)
        shown = published if feed.dated else None
        self.items.append(Item(f"{len(self.items)}", feed, title, shown, seen, gold, outlet))

    def build(self) -> list[Item]:
        by_story: dict[str, list[dict[str, str]]] = {}
        for row in self.rows:
            by_story.setdefault(row["story"], []).append(row)
        for story in sorted(by_story):
            self.story(story, by_story[story])
        self.recurring()
        self.opml_import()
        return self.items

    def story(self, story: str, rows: list[dict[str, str]]) -> None:
        rng = self.rng
        if rng.random() < 0.5:  # the long tail: most stories reach a few outlets only
            rows = rng.sample(rows, min(len(rows), rng.randint(2, 6)))
        start = DAY + timedelta(hours=rng.uniform(0.5, 21))
        scale = rng.choice((15, 45, 180, 600))  # minutes: a burst or a slow burn
        for row in rows:
            published = start + timedelta(minutes=rng.expovariate(1 / scale))
            outlet = registrable(row["hostname"])
            self.add(self.host_feed(row), row["title"], published, story, outlet)
            mirror = MIRRORS.get(outlet)
            if mirror is not None and rng.random() < 0.6:
                name = row["publisher"].replace("\\", "")
                feed = self.feed(mirror, f"https://www.{mirror}/", name, f"https://www.{mirror}/feed")
                self.add(feed, row["title"], published + timedelta(minutes=rng.uniform(1, 20)), story, outlet)
            if rng.random() < 0.06:  # syndicated: member papers reprint it word for word
                for k in rng.sample(range(40), rng.randint(2, 5)):
                    site = f"member{k}.example"
                    feed = self.feed(
                        site, f"https://{site}/", f"The Member {k} Gazette", f"https://{site}/rss"
                    )
                    late = published + timedelta(minutes=rng.uniform(5, 90))
                    self.add(feed, row["title"], late, story, outlet)

    def recurring(self) -> None:
        hosts = sorted({r["hostname"] for r in self.rows})
        for n, title in enumerate(RECURRING):
            base = DAY + timedelta(hours=self.rng.uniform(5.5, 7))
            for host in self.rng.sample(hosts, 30):
                row = next(r for r in self.rows if r["hostname"] == host)
                when = base + timedelta(minutes=self.rng.uniform(0, 40))
                self.add(self.host_feed(row), title, when, f"recurring:{n}:{host}", None)

    def opml_import(self) -> None:
        for k in range(25):
            site = f"imported{k}.example"
            feed = Feed(f"https://{site}/", f"Imported Daily {k}", f"https://{site}/rss", 0.0)
            seen = IMPORT_AT + timedelta(seconds=k)
            for row in self.rng.sample(self.rows, 15):
                item = Item(
                    f"{len(self.items)}", feed, row["title"], None, seen, row["story"], None, imported=True
                )
                self.items.append(item)


def registrable(host: str) -> str:
    domain = tld.get_fld(host, fix_protocol=True, fail_silently=True)
    return domain if isinstance(domain, str) else host


# --- truth ------------------------------------------------------------------------------------


def breaking_since(items: Sequence[Item], k: int, window: timedelta) -> dict[str, datetime]:
    """Each truly breaking story and when its K-th outlet within the window published."""
    by_gold: dict[str, list[tuple[datetime, str]]] = {}
    for it in items:
        if it.outlet is not None:
            by_gold.setdefault(it.gold, []).append((it.published or it.first_seen, it.outlet))
    out: dict[str, datetime] = {}
    for gold, points in by_gold.items():
        points.sort()
        for end, _ in points:  # the K-th outlet completes a window at one of the points
            if len({o for t, o in points if end - window <= t <= end}) >= k:
                out[gold] = end
                break
    return out


# --- replay -----------------------------------------------------------------------------------

Rule = Callable[[str, list[Item], datetime], bool]


def today_rule(k: int, window: timedelta) -> Rule:
    def decide(story_id: str, members: list[Item], now: datetime) -> bool:
        return is_breaking([(m.feed.source, m.when) for m in members], min_sources=k, window=window, now=now)

    return decide


def our_rule(settings: AlertSettings) -> Rule:
    def decide(story_id: str, members: list[Item], now: datetime) -> bool:
        articles = tuple(
            AlertArticle(
                source=m.feed.source,
                published=m.when,
                title=m.title,
                display_name=m.feed.title,
                imported=m.imported,
            )
            for m in members
        )
        return decide_alert(AlertStory(story_id, articles), None, now, settings=settings).kind == "post"

    return decide


@dataclass(slots=True)
class Tally:
    alerts: int = 0
    right: int = 0
    duplicate: int = 0
    recurring: int = 0
    early_or_false: int = 0
    caught: set[str] = field(default_factory=set)


def replay(
    items: list[Item], rules: dict[str, Rule], truth: dict[str, datetime], *, recurring_alone: bool
) -> dict[str, Tally]:
    """Group the items tick by tick as the bot would, and judge each rule's alerts.

    ``recurring_alone``: items with a recurring title stay out of the grouper (stories of their
    own), as the assigner keeps them since issue 15.
    """
    by_id = {it.id: it for it in items}
    if recurring_alone:
        items = [it for it in items if not is_recurring_title(it.title, it.feed.title)]
    pending = sorted(items, key=lambda it: (it.first_seen, int(it.id)))
    grouper = StoryGrouper()
    alerted: dict[str, set[str]] = {name: set() for name in rules}
    tallies = {name: Tally() for name in rules}
    now, i = DAY - timedelta(hours=1), 0
    while i < len(pending):
        now += TICK
        batch = []
        while i < len(pending) and pending[i].first_seen <= now:
            batch.append(pending[i])
            i += 1
        for it in batch:
            grouper.add(
                StoryItem(id=it.id, title=it.title, published=it.when, source=it.feed.source), now=now
            )
        touched = {grouper.story_of(it.id) for it in batch} - {None}
        for name, rule in rules.items():
            done = {s.id for s in map(grouper.story, alerted[name]) if s is not None}
            for story_id in sorted(touched - done):  # type: ignore[type-var]
                members = [by_id[m] for m in grouper.members(story_id)]  # type: ignore[arg-type]
                if rule(story_id, members, now):  # type: ignore[arg-type]
                    alerted[name].add(story_id)  # type: ignore[arg-type]
                    judge(tallies[name], members, now, truth)
    return tallies


def judge(tally: Tally, members: list[Item], now: datetime, truth: dict[str, datetime]) -> None:
    tally.alerts += 1
    gold = Counter(m.gold for m in members).most_common(1)[0][0]
    if gold.startswith("recurring:"):
        tally.recurring += 1
    elif gold not in truth or truth[gold] > now:
        tally.early_or_false += 1
    elif gold in tally.caught:
        tally.duplicate += 1
    else:
        tally.right += 1
        tally.caught.add(gold)


# --- main -------------------------------------------------------------------------------------


def load(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def run(rows: list[dict[str, str]], seed: int, k: int, window: timedelta) -> dict[str, tuple[Tally, int]]:
    items = Traffic(rows, random.Random(seed)).build()
    truth = breaking_since(items, k, window)
    minutes = int(window.total_seconds() // 60)
    today = {"today (feed outlets, first-seen times)": today_rule(k, window)}
    ours = {
        "ours (default)": our_rule(AlertSettings(min_sources=k, window_minutes=minutes)),
        "ours, count_reprints on": our_rule(
            AlertSettings(min_sources=k, window_minutes=minutes, count_reprints=True)
        ),
    }
    tallies = replay(items, today, truth, recurring_alone=False) | replay(
        items, ours, truth, recurring_alone=True
    )
    print(
        f"seed {seed}: {len(items)} items, {len({i.feed for i in items})} feeds, "
        f"{len(truth)} stories truly had {k} outlets within {minutes} min"
    )
    return {name: (t, len(truth)) for name, t in tallies.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--min-sources", type=int, default=3)
    parser.add_argument("--window", type=int, default=60, help="minutes")
    args = parser.parse_args(argv)
    path = args.data / "articles.jsonl"
    if not path.exists():
        print(f"no data at {path}", file=sys.stderr)
        return 2
    rows = load(path)
    totals: dict[str, list[int]] = {}
    for seed in args.seeds:
        for name, (t, truly) in run(rows, seed, args.min_sources, timedelta(minutes=args.window)).items():
            sums = totals.setdefault(name, [0] * 7)
            for j, v in enumerate(
                (t.alerts, t.right, t.duplicate, t.recurring, t.early_or_false, len(t.caught), truly)
            ):
                sums[j] += v
    print(f"K={args.min_sources}, window {args.window} min, seeds {args.seeds} (summed):")
    for name, (alerts, right, dup, rec, false, caught, truly) in totals.items():
        precision = right / alerts if alerts else 1.0
        # Duplicates are one event split into two stories by the grouper, each alerting.
        distinct = (right + dup) / alerts if alerts else 1.0
        recall = caught / truly if truly else 1.0
        print(
            f"  {name:<40} precision {precision:.3f} ({distinct:.3f} with duplicates right)"
            f"  recall {recall:.3f}  alerts {alerts:>4}: right {right}, duplicate {dup},"
            f" recurring {rec}, not (yet) breaking {false}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
