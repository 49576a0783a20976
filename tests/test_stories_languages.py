"""Story grouping in other languages and scripts (issue 15, point 5).

Terms are sensible in every script (bigrams where words are not spaced, accents and Arabic marks
folded), nothing crashes on any text, and stories in one language are grouped together on
``tests/data/stories/multilingual.jsonl`` (headlines written for this test, see its README).
"""

from __future__ import annotations

import json
import string
import unicodedata
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.stories import StoryGrouper, StoryItem
from bot.stories.evaluation import bcubed, evaluate, load_labelled, run_grouper
from bot.stories.text import terms

DATA = Path(__file__).resolve().parent / "data" / "stories" / "multilingual.jsonl"
SEEDS = range(1, 11)
# Measured: mean 0.951 over these seeds (lowest stream 0.925); German compounds (Bahnstreik,
# Hochwasserlage) split two of its stories. Before issue 15 (ASCII-only terms) it scored 0.772.
MIN_F1 = 0.93
MIN_F1_PER_STREAM = 0.90


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        # Japanese: kanji bigrams, a katakana word whole, hiragana (particles, endings) dropped.
        ("東京で震度5の地震、けが人なし", ["東京", "震度", "5", "地震", "人"]),
        ("ガソリン価格が過去最高に", ["ガソリン", "価格", "過去", "去最", "最高"]),
        # Half-width katakana and full-width Latin read as their ordinary forms.
        ("ｶﾞｿﾘﾝ ＡＢＣ１２３", ["ガソリン", "abc123"]),
        ("美国总统宣布关税", ["美国", "国总", "总统", "统宣", "宣布", "布关", "关税"]),
        # Korean syllables stay whole (not split into jamo); particles share the word's bigrams.
        ("대통령, 국회에서 연설", ["대통", "통령", "국회", "회에", "에서", "연설"]),
        # Arabic: harakat and tatweel folded, hamza carriers and teh marbuta normalised, article removed.
        ("الرئيس المصري يلتقي وزيرَ الخارجيةِ", ["رييس", "مصري", "يلتقي", "وزير", "خارجيه"]),
        ("رئيســ", ["رييس"]),
        # Function words go, in their folded spelling too (على is read علي).
        ("زلزال في المغرب على الحدود التي", ["زلزال", "مغرب", "حدود"]),
        ("٢٠٢٤ عام", ["2024", "عام"]),
        ("ראש הממשלה נפגש עם נשיא", ["ראש", "הממשלה", "נפגש", "נשיא"]),
        ("Путин встретился с Си Цзиньпином в Москве", ["путин", "встретилс", "си", "цзиньпин", "москв"]),
        ("Αθήνα: σεισμός Ρίχτερ", ["αθην", "σεισμ", "ριχτερ"]),
        # Latin letters NFKD leaves whole are folded too.
        ("Straße in Łódź gesperrt – Élysée", ["strasse", "lodz", "gesperrt", "elysee"]),
        ("Réouverture de Notre-Dame", ["reouverture", "de", "notre", "dame"]),
        # Devanagari keeps its vowel signs and viramas.
        ("प्रधानमंत्री मोदी ने बजट पेश किया", ["प्रधानमंत्री", "मोदी", "ने", "बजट", "पेश", "किया"]),
    ],
)
def test_terms_are_sensible_in_each_script(title, expected):
    assert terms(title) == expected


def test_thai_gives_bigrams_of_letters_with_their_marks():
    # ข่าว ด่วน ("breaking news"): each unit is a consonant with its tone or vowel marks.
    assert terms("ข่าวด่วน") == ["ข่า", "าว", "วด่", "ด่ว", "วน"]


def test_english_with_typographic_punctuation_reads_as_with_ascii():
    # Dashes, quotes and ellipses take the non-ASCII path, which must give the same English terms.
    typographic = "Obama’s “jobs” plan — Senate votes… Beyoncé’s €2.5bn deal"
    plain = "Obama's \"jobs\" plan - Senate votes... Beyonce's €2.5bn deal"
    assert (
        terms(typographic)
        == terms(plain)
        == ["obama", "job", "plan", "senate", "vote", "beyonce", "€2.5bn", "deal"]
    )


_SEPARATORS = set(string.whitespace + string.punctuation.replace("$", "").replace("'", "").replace(".", ""))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_terms_never_crash_and_give_clean_tokens(text):
    for term in terms(text):
        assert term
        assert not _SEPARATORS & set(term), term
        assert not any(unicodedata.category(ch)[0] in "ZC" for ch in term), term


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=60), min_size=1, max_size=25))
def test_grouper_never_crashes_on_any_script(titles):
    grouper = StoryGrouper()
    items = [StoryItem(id=str(i), title=title) for i, title in enumerate(titles)]
    grouper.add_many(items)
    grouper.merge()
    assert set(grouper.assignments()) == {item.id for item in items}


def _languages() -> dict[str, str]:
    with DATA.open(encoding="utf-8") as f:
        return {row["id"]: row["lang"] for row in map(json.loads, f)}


def test_same_language_stories_are_grouped():
    items, gold = load_labelled(DATA)
    assert len(items) == 84 and len(set(gold.values())) == 21
    score = evaluate(items, gold, run_grouper(), SEEDS)
    print(f"multilingual B-cubed P={score.precision:.3f} R={score.recall:.3f} F1={score.f1:.3f}")
    assert score.f1 >= MIN_F1, score
    assert min(score.per_seed) >= MIN_F1_PER_STREAM, score.per_seed


def test_scripts_without_spaces_and_right_to_left_group_perfectly_and_never_mix():
    items, gold = load_labelled(DATA)
    lang = _languages()
    predicted = run_grouper()(items)
    members: dict[str, set[str]] = defaultdict(set)
    for item_id, story in predicted.items():
        members[story].add(lang[item_id])
    assert all(len(langs) == 1 for langs in members.values()), "a story mixes languages"
    for language in ("ja", "zh", "ko", "ar", "ru"):
        ids = [i for i in gold if lang[i] == language]
        f1 = bcubed({i: predicted[i] for i in ids}, {i: gold[i] for i in ids})[2]
        assert f1 == 1.0, (language, f1)
