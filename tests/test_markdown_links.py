"""A link whose text names a host is never a masked link (issue 10, point 7 audit): Discord refuses
masked links only when the text holds a scheme, so "discord.gift/abc" over a link elsewhere would
show one place and lead to another.
"""

from __future__ import annotations

import pytest

from bot.feeds.markdown import html_to_markdown


def markdown(html: str) -> str:
    return html_to_markdown(html, base="https://feed.example/", limit=4000).markdown


@pytest.mark.parametrize(
    "label",
    [
        "discord.gift/abc",
        "Claim it at Discord.Gift",
        "steam-community.com/gift",
        "WWW.EXAMPLE.COM",
        "bank.co.uk",
    ],
)
def test_text_naming_a_host_shows_the_real_target_bare(label: str) -> None:
    shown = markdown(f'<p>Free: <a href="https://evil.example/steal">{label}</a></p>')
    assert "https://evil.example/steal" in shown
    assert "](" not in shown and label.lower() not in shown.lower().replace("https://evil.example/steal", "")


def test_words_stay_a_masked_link() -> None:
    assert (
        markdown('<a href="https://news.example/a">Read the story</a>')
        == "[Read the story](https://news.example/a)"
    )
