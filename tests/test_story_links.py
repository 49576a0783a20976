"""The words of an article's link slug as a second wording of its headline."""

from __future__ import annotations

import pytest

from bot.stories import GroupingConfig, StoryGrouper, StoryItem
from bot.stories.links import slug_text


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://x.example/2014/03/10/gm-recall-probe-widens.html", "gm recall probe widens"),
        (
            "https://x.example/2014/03/us-ecb-refi-poll-idINBREA290VH20140310",
            "us ecb refi poll",
        ),
        ("https://x.example/news/world_cup_final_tonight", "world cup final tonight"),
        ("https://x.example/%E6%97%A5%E6%9C%AC-%E5%9C%B0%E9%9C%87-%E6%B4%A5%E6%B3%A2", "日本 地震 津波"),
        # Sections, ids, opaque aggregator tokens and numbered paths are no slugs.
        ("https://x.example/world/europe/", ""),
        ("https://news.google.com/articles/CBMiSGh0dHBzOi8vd3d3", ""),
        ("https://x.example/story/a-1-2-3-4", ""),
        ("https://x.example/p?id=how-to-read-this", ""),
        ("http://[::1", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_slug_words(url, words):
    assert slug_text(url) == words


def test_a_huge_link_is_cut_before_it_is_read():
    url = "https://x.example/" + "-".join(["word"] * 100_000)
    assert len(slug_text(url).split()) < 500


def _grouped(link_weight: float) -> bool:
    grouper = StoryGrouper(GroupingConfig(link_weight=link_weight))
    first = grouper.add(
        StoryItem(
            id="1",
            title="Carmaker faces questions in Washington",
            link="https://a.example/2014/03/12/congress-hearing-gm-ignition-switch-recall",
        )
    )
    second = grouper.add(
        StoryItem(
            id="2",
            title="GM ignition switch recall: Congress sets hearing",
            link="https://b.example/autos/gm-ignition-recall-congress-hearing.html",
        )
    )
    return first == second


def test_slugs_group_a_headline_worded_apart_and_can_be_turned_off():
    assert _grouped(link_weight=0.5)
    assert not _grouped(link_weight=0.0)


def test_link_weight_must_not_be_negative():
    with pytest.raises(ValueError, match="link_weight"):
        GroupingConfig(link_weight=-0.1)
