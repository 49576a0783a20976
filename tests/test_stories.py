"""Story grouping on small hand-made streams: grouping, merging, time window, state, metric, CLI."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from bot.stories import (
    GroupingConfig,
    InvalidStoryStateError,
    StoryGrouper,
    StoryItem,
    bcubed,
)
from bot.stories.cli import group_stream
from bot.stories.text import terms

T0 = datetime(2014, 3, 10, 12, 0, tzinfo=UTC)

BANANA = [
    StoryItem("r1", "Chiquita to buy Fyffes, creating world's biggest banana company", source="Reuters"),
    StoryItem("b1", "Chiquita and Fyffes agree merger to form banana giant", source="BBC"),
    StoryItem("a1", "Fyffes, Chiquita merge in $1 billion banana deal", source="AP"),
]
OTHERS = [
    StoryItem("o1", "Malaysia Airlines flight MH370 search widens to Indian Ocean", source="CNN"),
    StoryItem("o2", "Apple unveils cheaper iPhone 5c with 8GB of storage", source="Verge"),
    StoryItem("o3", "Flappy Bird creator considers bringing the game back", source="BBC"),
    StoryItem("o4", "Ukraine crisis: Crimea parliament votes to join Russia", source="Reuters"),
]


def dated(item: StoryItem, when: datetime) -> StoryItem:
    return StoryItem(item.id, item.title, item.text, when, item.source)


def copy_of(item: StoryItem, new_id: str, when: datetime | None = None) -> StoryItem:
    return StoryItem(new_id, item.title, item.text, when, item.source)


# --- grouping ---------------------------------------------------------------


def test_same_event_from_three_outlets_shares_a_story():
    grouper = StoryGrouper()
    ids = grouper.add_many([BANANA[0], OTHERS[0], BANANA[1], OTHERS[1], BANANA[2]])
    assert ids[0] == ids[2] == ids[4]
    story = grouper.story(ids[0])
    assert story is not None
    assert set(story.item_ids) == {"r1", "b1", "a1"}
    assert story.sources == {"Reuters": 1, "BBC": 1, "AP": 1}


def test_different_events_get_different_stories():
    grouper = StoryGrouper()
    ids = grouper.add_many([*OTHERS, BANANA[0]])
    assert len(set(ids)) == len(ids)
    for item, story_id in zip([*OTHERS, BANANA[0]], ids, strict=True):
        assert grouper.members(story_id) == [item.id]


def test_story_of_and_members():
    grouper = StoryGrouper()
    story_id = grouper.add(BANANA[0])
    assert grouper.story_of("r1") == story_id
    assert grouper.story_of("unknown") is None
    assert grouper.members("no-such-story") == []
    assert grouper.story("no-such-story") is None


def test_adding_an_item_twice_is_idempotent():
    grouper = StoryGrouper()
    first = grouper.add(BANANA[0])
    # Same id, even with another title: a re-polled feed entry must not move or double-count.
    again = grouper.add(StoryItem("r1", "Something else entirely about football"))
    assert again == first
    assert grouper.members(first) == ["r1"]
    assert len(grouper) == 1


def test_text_helps_when_titles_differ():
    lead = "Chiquita Brands and Fyffes will merge to create the biggest banana supplier."
    teaser = StoryItem("t1", "Going bananas", text=lead)
    without_text = StoryGrouper()
    without_text.add_many(BANANA)
    assert without_text.add(StoryItem("t1", "Going bananas")) != without_text.story_of("r1")
    with_text = StoryGrouper()
    with_text.add_many(BANANA)
    assert with_text.add(teaser) == with_text.story_of("r1")


def test_item_of_only_stopwords_starts_its_own_story():
    grouper = StoryGrouper()
    grouper.add_many(BANANA)
    story_id = grouper.add(StoryItem("x", "What is it about?"))
    assert story_id != grouper.story_of("r1")
    assert grouper.members(story_id) == ["x"]
    grouper.merge()  # an empty vector must not break the merge either
    assert grouper.members(story_id) == ["x"]


def test_config_rejects_nonsense():
    with pytest.raises(ValueError):
        GroupingConfig(join_relative=0)
    with pytest.raises(ValueError):
        GroupingConfig(merge_floor=1.5)
    with pytest.raises(ValueError):
        GroupingConfig(window=timedelta(days=3), retention=timedelta(days=1))
    with pytest.raises(ValueError):
        GroupingConfig(merge_every=-1)


# --- merging ----------------------------------------------------------------

# Joining needs a near-duplicate, so each item starts its own story; merging takes the thresholds
# the default join has, so the merge alone must bring the fragments of an event together.
STRICT_JOIN = GroupingConfig(
    join_relative=0.95, join_floor=0.95, merge_relative=0.3, merge_floor=0.1, merge_every=0
)


def test_merge_joins_fragments_of_one_event_and_keeps_others_apart():
    grouper = StoryGrouper(STRICT_JOIN)
    ids = grouper.add_many([*BANANA, *OTHERS])
    assert len(set(ids)) == 7  # every item started its own story
    grouper.merge()
    banana_story = grouper.story_of("r1")
    assert grouper.story_of("b1") == grouper.story_of("a1") == banana_story
    assert sorted(grouper.members(banana_story or "")) == ["a1", "b1", "r1"]
    others = {grouper.story_of(item.id) for item in OTHERS}
    assert len(others) == 4 and banana_story not in others


def test_merged_away_story_ids_still_resolve():
    grouper = StoryGrouper(STRICT_JOIN)
    ids = grouper.add_many(BANANA)
    grouper.merge()
    survivor = grouper.story_of("r1")
    assert survivor == ids[0]  # equal sizes: the oldest story keeps its id
    for old in ids:
        assert sorted(grouper.members(old)) == ["a1", "b1", "r1"]
        snapshot = grouper.story(old)
        assert snapshot is not None and snapshot.id == survivor
    assert grouper.story_ids() == [survivor]


def test_merge_runs_periodically():
    config = dataclasses.replace(STRICT_JOIN, merge_every=3)
    grouper = StoryGrouper(config)
    grouper.add_many(BANANA[:2])
    assert grouper.story_of("r1") != grouper.story_of("b1")
    grouper.add(BANANA[2])  # the third add triggers the merge
    assert grouper.story_of("r1") == grouper.story_of("b1") == grouper.story_of("a1")


@pytest.mark.parametrize(("settled_size", "stories"), [(10, 2), (1000, 1)])
def test_settled_stories_need_a_close_match_to_merge(settled_size, stories):
    # Two established stories sharing only incidental words ("day", the numbers); the merge
    # thresholds are set so low that only the settled-story rule can keep them apart.
    markets = [f"Stocks fall on weak China trade data day {i}" for i in range(12)]
    banks = [f"Bank of England chief Carney faces MPs over forex probe day {i}" for i in range(12)]
    stream = [StoryItem(f"m{i}", t) for i, t in enumerate(markets)]
    stream += [StoryItem(f"k{i}", t) for i, t in enumerate(banks)]
    config = GroupingConfig(merge_every=0, merge_relative=0.05, merge_floor=0.05, settled_size=settled_size)
    grouper = StoryGrouper(config)
    grouper.add_many(stream)
    assert len(set(grouper.assignments().values())) == 2
    grouper.merge()
    assert len(set(grouper.assignments().values())) == stories


# --- time window --------------------------------------------------------------


def test_stale_story_is_not_a_candidate():
    config = GroupingConfig(window=timedelta(days=3), merge_every=0)
    grouper = StoryGrouper(config)
    first = grouper.add(dated(BANANA[0], T0))
    within = grouper.add(dated(BANANA[1], T0 + timedelta(days=2)))
    # Same words, but ten days after the story's last item: a new event (a follow-up deal...).
    later = grouper.add(copy_of(BANANA[2], "late", T0 + timedelta(days=12)))
    assert within == first
    assert later != first


def test_time_window_also_applies_to_merges():
    config = dataclasses.replace(STRICT_JOIN, window=timedelta(days=3), retention=timedelta(days=30))
    grouper = StoryGrouper(config)
    grouper.add(dated(BANANA[0], T0))
    grouper.add(dated(BANANA[1], T0 + timedelta(days=10)))
    grouper.merge()
    assert grouper.story_of("r1") != grouper.story_of("b1")


def test_items_without_date_use_now_and_future_dates_are_capped():
    grouper = StoryGrouper(GroupingConfig(merge_every=0))
    story_id = grouper.add(BANANA[0], now=T0)
    far_future = dated(BANANA[1], T0 + timedelta(days=400))
    assert grouper.add(far_future, now=T0 + timedelta(hours=1)) == story_id
    story = grouper.story(story_id)
    assert story is not None
    assert story.first_seen == T0
    assert story.last_seen == T0 + timedelta(hours=1)


def test_naive_datetimes_are_taken_as_utc():
    grouper = StoryGrouper()
    story_id = grouper.add(dated(BANANA[0], datetime(2014, 3, 10, 12, 0)))
    story = grouper.story(story_id)
    assert story is not None and story.first_seen == T0


def test_stories_past_retention_are_forgotten():
    config = GroupingConfig(window=timedelta(days=1), retention=timedelta(days=2), merge_every=1)
    grouper = StoryGrouper(config)
    old = grouper.add(dated(BANANA[0], T0))
    grouper.add(dated(OTHERS[0], T0 + timedelta(days=1, hours=12)))
    assert grouper.story_of("r1") == old  # stale, but still held
    grouper.add(dated(OTHERS[1], T0 + timedelta(days=3)))
    assert grouper.story_of("r1") is None
    assert grouper.members(old) == []
    assert grouper.story_of("o1") is not None


# --- state --------------------------------------------------------------------


def _grouped(config: GroupingConfig | None = None) -> StoryGrouper:
    grouper = StoryGrouper(config or GroupingConfig(merge_every=2))
    for n, item in enumerate([*BANANA, *OTHERS]):
        grouper.add(dated(item, T0 + timedelta(hours=n)))
    return grouper


def test_state_round_trips_through_json():
    grouper = _grouped()
    state = json.loads(json.dumps(grouper.to_state()))
    restored = StoryGrouper.from_state(state)
    assert restored.assignments() == grouper.assignments()
    assert restored.config == grouper.config
    assert restored.to_state() == grouper.to_state()
    # The restored grouper carries on exactly as the original would have.
    more = [
        StoryItem(
            "n1", "Fyffes shareholders back the Chiquita banana merger", published=T0 + timedelta(hours=9)
        ),
        StoryItem(
            "n2", "Crimea votes to join Russia as Ukraine crisis deepens", published=T0 + timedelta(hours=9)
        ),
        StoryItem("n3", "Lindsay Lohan docuseries debuts on OWN", published=T0 + timedelta(hours=10)),
    ]
    assert restored.add_many(more) == grouper.add_many(more)
    assert restored.assignments() == grouper.assignments()


def test_state_keeps_aliases_of_merged_stories():
    grouper = StoryGrouper(STRICT_JOIN)
    ids = grouper.add_many(BANANA)
    grouper.merge()
    restored = StoryGrouper.from_state(json.loads(json.dumps(grouper.to_state())))
    for old in ids:
        assert sorted(restored.members(old)) == ["a1", "b1", "r1"]


def test_from_state_config_overrides_the_saved_one():
    grouper = _grouped()
    config = GroupingConfig(window=timedelta(days=1))
    assert StoryGrouper.from_state(grouper.to_state(), config).config == config


def test_grouper_pickles():
    grouper = _grouped()
    restored = pickle.loads(pickle.dumps(grouper))
    assert restored.assignments() == grouper.assignments()
    assert restored.add(BANANA[0]) == grouper.story_of("r1")


@pytest.mark.parametrize(
    "state",
    [
        [],
        {"version": 99},
        {"version": 1},
        {**StoryGrouper().to_state(), "stories": [{"id": "s1"}]},
        {**StoryGrouper().to_state(), "df": ["not", "a", "mapping"]},
        {**StoryGrouper().to_state(), "config": {"join_relative": 7}},
    ],
)
def test_from_state_rejects_malformed_state(state):
    with pytest.raises(InvalidStoryStateError):
        StoryGrouper.from_state(state)


# --- concurrency --------------------------------------------------------------


def test_concurrent_adds_from_threads_lose_nothing():
    grouper = StoryGrouper(GroupingConfig(merge_every=7))
    items = [copy_of(item, f"{item.id}-{k}") for k in range(30) for item in [*BANANA, *OTHERS]]
    barrier = threading.Barrier(4)

    def add_slice(start: int) -> None:
        barrier.wait()
        for item in items[start::4]:
            grouper.add(item)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(add_slice, range(4)))
    assignments = grouper.assignments()
    assert len(assignments) == len(items)
    assert sum(len(grouper.members(s)) for s in set(assignments.values())) == len(items)


async def test_usable_from_an_executor():
    grouper = StoryGrouper()
    loop = asyncio.get_running_loop()
    ids = [await loop.run_in_executor(None, grouper.add, item) for item in BANANA]
    assert len(set(ids)) == 1


# --- text -----------------------------------------------------------------------


def test_terms_fold_case_accents_and_punctuation_and_keep_numbers():
    assert terms("Beyoncé's ‘Ban Bossy’ campaign!") == ["beyonce", "ban", "bossy", "campaign"]
    assert terms("Chrysler recalls 25,000 Jeeps") == ["chrysler", "recall", "25000", "jeep"]
    assert terms("Colorado nets $2.1M in taxes") == ["colorado", "net", "$2.1m", "tax"]
    assert terms("The and of to") == []
    assert terms(None) == []


def test_stemming_is_light():
    assert terms("stories studies stopping") == ["story", "study", "stop"]
    assert terms("falling glasses") == ["fall", "glass"]


# --- metric ---------------------------------------------------------------------


def test_bcubed_perfect_clustering():
    gold = {"a": 1, "b": 1, "c": 2}
    assert bcubed({"a": "x", "b": "x", "c": "y"}, gold) == (1.0, 1.0, 1.0)


def test_bcubed_everything_in_one_cluster():
    gold = {"a": 1, "b": 1, "c": 2, "d": 2}
    precision, recall, f1 = bcubed(dict.fromkeys(gold, "all"), gold)
    assert (precision, recall) == (0.5, 1.0)
    assert f1 == pytest.approx(2 / 3)


def test_bcubed_all_singletons():
    gold = {"a": 1, "b": 1, "c": 1}
    precision, recall, f1 = bcubed({"a": 1, "b": 2, "c": 3}, gold)
    assert precision == 1.0
    assert recall == pytest.approx(1 / 3)
    assert f1 == pytest.approx(0.5)


def test_bcubed_mixed_case_worked_by_hand():
    # a: P 1/1, R 1/2; b: P 1/2, R 1/2; c: P 1/2, R 1/1.
    precision, recall, f1 = bcubed({"a": "x", "b": "y", "c": "y"}, {"a": 1, "b": 1, "c": 2})
    assert precision == pytest.approx(2 / 3)
    assert recall == pytest.approx(2 / 3)
    assert f1 == pytest.approx(2 / 3)


def test_bcubed_needs_the_same_items():
    with pytest.raises(ValueError):
        bcubed({"a": 1}, {"a": 1, "b": 1})
    with pytest.raises(ValueError):
        bcubed({}, {})


# --- CLI --------------------------------------------------------------------------


def _jsonl(*rows: object) -> io.StringIO:
    return io.StringIO("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def test_cli_groups_like_the_grouper():
    rows = [
        {"id": it.id, "title": it.title, "source": it.source, "published": "2014-03-10T12:00:00Z"}
        for it in [*BANANA, *OTHERS]
    ]
    out = io.StringIO()
    err = io.StringIO()
    assert group_stream(_jsonl(*rows), out, errfile=err) == 0
    assert err.getvalue() == ""
    result = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in result] == [r["id"] for r in rows]
    grouper = StoryGrouper()
    grouper.add_many(dated(it, T0) for it in [*BANANA, *OTHERS])
    grouper.merge()
    assert {r["id"]: r["story"] for r in result} == grouper.assignments()
    assert all(isinstance(r["story"], str) for r in result)


def test_cli_reports_bad_lines_with_their_number_and_goes_on():
    out = io.StringIO()
    err = io.StringIO()
    stream = _jsonl(
        {"id": 1, "title": "Chiquita to buy Fyffes"},
        "{not json",
        {"title": "no id"},
        "",
        {"id": "x", "title": "Fyffes deal", "published": "last tuesday"},
        {"id": "y", "title": 42},
        {"id": 2, "title": "Fyffes and Chiquita merge", "text": None},
    )
    assert group_stream(stream, out, errfile=err) == 1
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("line 2: not valid JSON")
    assert lines[1].startswith('line 3: "id"')
    assert lines[2].startswith('line 5: "published"')
    assert lines[3].startswith('line 6: "title"')
    assert "4 bad line(s)" in lines[4]
    result = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in result] == [1, 2]
    assert result[0]["story"] == result[1]["story"]


def test_cli_reads_the_link_slug():
    slug = "gm-ignition-switch-recall-congress-hearing"
    rows = [
        {"id": 1, "title": "Carmaker faces questions over recall", "link": f"https://a.example/{slug}"},
        {
            "id": 2,
            "title": "GM ignition switch recall: Congress sets hearing",
            "link": f"https://b.example/{slug}",
        },
    ]
    unlinked = [{"id": r["id"], "title": r["title"]} for r in rows]
    stories = []
    for stream in (rows, unlinked):
        out = io.StringIO()
        assert group_stream(_jsonl(*stream), out, errfile=io.StringIO()) == 0
        stories.append({r["story"] for r in map(json.loads, out.getvalue().splitlines())})
    assert [len(s) for s in stories] == [1, 2]
    bad = io.StringIO()
    assert group_stream(_jsonl({"id": 3, "title": "x", "link": 5}), io.StringIO(), errfile=bad) == 1
    assert '"link" must be a string' in bad.getvalue()


def test_cli_on_empty_input():
    out = io.StringIO()
    assert group_stream(io.StringIO(""), out, errfile=io.StringIO()) == 0
    assert out.getvalue() == ""


def test_stories_expire_even_without_periodic_merge():
    config = GroupingConfig(window=timedelta(days=1), retention=timedelta(days=2), merge_every=0)
    grouper = StoryGrouper(config)
    grouper.add(dated(BANANA[0], T0))
    later = T0 + timedelta(days=5)
    grouper.add_many(copy_of(OTHERS[0], f"o{n}", later) for n in range(60))
    assert grouper.story_of("r1") is None


# --- embeddings (optional extra) -----------------------------------------------------

# A tiny embedder standing in for a sentence model: titles about the same show map to the
# same direction although they share no word, which TF-IDF alone cannot see.
_TOPICS = {
    "lohan": 0,
    "lilo": 0,
    "oprah": 0,
    "chiquita": 1,
    "fyffes": 1,
    "banana": 1,
    "mh370": 2,
    "airlines": 2,
}


def topic_embedder(texts):
    out = []
    for text in texts:
        vec = [0.05, 0.05, 0.05, 0.05]
        for word in text.lower().replace(",", " ").split():
            if word in _TOPICS:
                vec[_TOPICS[word]] += 1.0
        length = sum(x * x for x in vec) ** 0.5
        out.append([x / length for x in vec])
    return out


LOHAN = [
    StoryItem("l1", "Lindsay Lohan docuseries debuts to 693000 viewers"),
    StoryItem("l2", "LiLo reality show debuts on Oprah"),
]


def test_embeddings_group_titles_sharing_no_word():
    pytest.importorskip("numpy")
    text_only = StoryGrouper()
    text_only.add_many(LOHAN)
    assert text_only.story_of("l1") != text_only.story_of("l2")
    hybrid = StoryGrouper(GroupingConfig.with_embeddings(), topic_embedder)
    ids = hybrid.add_many([*LOHAN, *BANANA, OTHERS[0]])
    assert ids[0] == ids[1]
    assert ids[2] == ids[3] == ids[4] != ids[0]
    assert ids[5] not in ids[:5]
    # One at a time gives the same stories as a batch.
    single = StoryGrouper(GroupingConfig.with_embeddings(), topic_embedder)
    assert [single.add(item) for item in [*LOHAN, *BANANA, OTHERS[0]]] == ids


def test_embeddings_state_round_trip_and_pickle():
    pytest.importorskip("numpy")
    grouper = StoryGrouper(GroupingConfig.with_embeddings(), topic_embedder)
    grouper.add_many([*LOHAN, *BANANA, *OTHERS])
    grouper.merge()
    state = json.loads(json.dumps(grouper.to_state()))
    restored = StoryGrouper.from_state(state, embedder=topic_embedder)
    assert restored.to_state() == grouper.to_state()
    assert restored.add(StoryItem("l3", "Oprah and Lohan")) == grouper.add(StoryItem("l3", "Oprah and Lohan"))
    assert pickle.loads(pickle.dumps(grouper)).assignments() == grouper.assignments()
    with pytest.raises(InvalidStoryStateError):
        StoryGrouper.from_state(state)  # saved with embeddings, restored without an embedder


def test_embedder_and_weight_go_together():
    with pytest.raises(ValueError):
        StoryGrouper(GroupingConfig.with_embeddings())
    with pytest.raises(ValueError):
        StoryGrouper(GroupingConfig(), topic_embedder)
    with pytest.raises(ValueError):
        GroupingConfig(embedding_weight=1.5)


def _minilm():
    pytest.importorskip("numpy")
    from bot.stories.embeddings import EmbeddingsUnavailableError, MiniLMEncoder

    try:
        return MiniLMEncoder()
    except EmbeddingsUnavailableError as e:
        pytest.skip(f"optional embeddings model not installed: {e}")


def test_minilm_tokenizer_matches_bert_uncased_ids():
    encoder = _minilm()
    # Ids of bert-base-uncased's vocabulary, which MiniLM shares.
    assert encoder.tokenizer.encode("Hello, World!") == [101, 7592, 1010, 2088, 999, 102]
    assert encoder.tokenizer.encode("Beyoncé") == encoder.tokenizer.encode("beyonce")


def test_minilm_embeds_paraphrases_close_and_unrelated_far():
    encoder = _minilm()
    vectors = encoder(
        [
            "Chiquita to buy Fyffes, creating world's biggest banana company",
            "Chiquita and Fyffes agree merger to form banana giant",
            "Malaysia Airlines flight MH370 search widens to Indian Ocean",
        ]
    )
    assert all(abs(sum(x * x for x in v) - 1.0) < 1e-4 for v in vectors)
    assert len(vectors[0]) == 384

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(vectors[0], vectors[1]) > 0.6
    assert cos(vectors[0], vectors[2]) < 0.3
    # Pickles as its model directory and comes back working.
    assert pickle.loads(pickle.dumps(encoder))(["Chiquita"]) == encoder(["Chiquita"])


def test_cli_with_an_embedder_uses_the_embeddings_config():
    pytest.importorskip("numpy")
    rows = [{"id": it.id, "title": it.title} for it in [*LOHAN, *BANANA]]
    out = io.StringIO()
    assert group_stream(_jsonl(*rows), out, errfile=io.StringIO(), embedder=topic_embedder) == 0
    stories = [json.loads(line)["story"] for line in out.getvalue().splitlines()]
    assert stories[0] == stories[1] != stories[2]
    assert stories[2] == stories[3] == stories[4]


def test_vocabulary_stays_bounded():
    grouper = StoryGrouper(GroupingConfig(max_terms=60))
    grouper.add_many(StoryItem(f"u{n}", f"Unique words alpha{n} beta{n} gamma{n}") for n in range(100))
    df = grouper.to_state()["df"]
    assert len(df) <= 60
    assert df["unique"] == 100  # the common terms survive; one-off names go first
