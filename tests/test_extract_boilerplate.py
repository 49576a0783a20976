"""Tests of the rules that take the page's furniture out of the article's text.

Each rule has a golden page in ``tests/data/pages`` (run by ``tests/test_extract.py``); the
tests here pin what each rule must leave alone, so that it never takes article text.
"""

from __future__ import annotations

from html import escape

import pytest

from bot.extract import extract

URL = "https://www.harbourgazette.example/news/2025/03/water-bill"
PARAGRAPHS = [
    "The regional parliament passed the water bill on Thursday after a debate that lasted nine hours. "
    "The law sets a cap on how much groundwater farms may pump during a drought.",
    "Farmers' unions said the cap would cost them a third of their harvest in dry years, "
    "while environmental groups called it the first serious attempt to protect the aquifer.",
    "The cap takes effect in June. Inspectors will read the meters of the 4,000 largest wells every month, "
    "and fines will rise with each month a farm stays above its limit.",
]


def page(body: str, head: str = "<title>Water bill passes</title>") -> str:
    return f"<!DOCTYPE html><html lang='en'><head>{head}</head><body>{body}</body></html>"


def paragraphs_html(texts: list[str] = PARAGRAPHS) -> str:
    return "".join(f"<p>{text}</p>" for text in texts)


# --- headings above the article ---------------------------------------------------------


def test_short_first_section_title_after_the_headline_is_kept() -> None:
    html = page(
        "<article><h1>Water bill passes</h1><h2>The vote</h2>"
        f"{paragraphs_html()}<h2>What comes next</h2>{paragraphs_html(PARAGRAPHS[:1])}</article>"
    )
    text = extract(html, URL).text.split("\n\n")
    assert text[:2] == ["The vote", PARAGRAPHS[0]]


def test_headline_worded_unlike_the_title_is_not_text() -> None:
    html = page(
        f"<article><h1>Nine hours of debate end in a cap on the aquifer</h1>{paragraphs_html()}</article>",
        head="<title>Water bill passes | The Harbour Gazette</title>"
        "<meta property='og:title' content='Water bill passes'>",
    )
    article = extract(html, URL)
    assert article.text.split("\n\n") == PARAGRAPHS
    assert article.title == "Water bill passes"


# --- plugs, contact lines and link lines in the article's container ----------------------


@pytest.mark.parametrize(
    "line",
    [
        "Sign up for our free daily newsletter.",
        "Click here to subscribe to The Harbour Briefing newsletter",
        "Subscribe to our YouTube channel for all of the latest videos.",
        "Get the day's top stories delivered to your inbox.",
        "Follow us on Twitter and Facebook.",
        "Follow Harbour Gazette Sport on Instagram.",
        "Email Lena Okafor at lokafor@harbourgazette.example or follow her @lenaokafor.",
        "Write to Lena Okafor at lokafor@harbourgazette.example",
        "Reach the reporter on Twitter at https://twitter.com/lenaokafor",
        "READ MORE: Night buses return to the old town",
        "(Leggi anche: Il tram arriva all'aeroporto)",
        "Lire aussi : Le tramway arrive à l'aéroport",
    ],
)
def test_plug_contact_and_link_lines_are_not_text(line: str) -> None:
    texts = [*PARAGRAPHS[:2], line, PARAGRAPHS[2]]
    html = page(f"<article><h1>Water bill passes</h1>{paragraphs_html(texts)}</article>")
    assert extract(html, URL).text.split("\n\n") == PARAGRAPHS


@pytest.mark.parametrize(
    "paragraph",
    [
        # Newsletters, subscriptions and social accounts as the story's subject.
        "More than 20,000 residents subscribe to the council's newsletter, "
        "which announced the vote a week early.",
        "The mayor urged residents to follow the council on Twitter for updates on the works.",
        "Farmers who sign up for the ministry's drought alerts will be told a week before the cap applies, "
        "the minister said, and those who do not will be sent a letter.",
        "Related costs, such as new meters, will be paid by the region.",
        # Long: the article's own paragraph, whatever it mentions.
        "Sign up for the scheme, announced in the ministry's newsletter, opened on Monday, and the ministry "
        "says that by the end of the week more than 3,000 farms had registered their wells, which is roughly "
        "a third of those that will have to by June, when inspectors start reading the meters every month "
        "and the first fines for the wells above their limit are sent out.",
    ],
)
def test_article_paragraphs_about_newsletters_and_accounts_are_kept(paragraph: str) -> None:
    texts = [*PARAGRAPHS[:2], paragraph, PARAGRAPHS[2]]
    html = page(f"<article><h1>Water bill passes</h1>{paragraphs_html(texts)}</article>")
    assert extract(html, URL).text.split("\n\n") == texts


# --- cards of links in a sentence, lists of headlines -----------------------------------


def test_linked_names_in_a_sentence_are_kept() -> None:
    sentence = (
        "The bill was backed by the farmers' unions of Meller, Oost and Harbour Vale "
        "and opposed by the water board."
    )
    linked = sentence.replace(
        "Meller, Oost and Harbour Vale",
        "<span class='orgs'><a href='/u/meller'>Meller</a>, <a href='/u/oost'>Oost</a> and "
        "<a href='/u/vale'>Harbour Vale</a></span>",
    )
    html = page(f"<article><h1>Water bill passes</h1>{paragraphs_html([*PARAGRAPHS[:2], linked])}</article>")
    assert extract(html, URL).text.split("\n\n") == [*PARAGRAPHS[:2], sentence]


@pytest.mark.parametrize(
    ("items", "shown"),
    [
        # Links with words of their own: the article's list of documents.
        (
            "<li><a href='/bill.pdf'>The water bill as passed</a> (PDF, 2 MB)</li>"
            "<li><a href='/map.pdf'>Map of the aquifer's wells</a> (PDF, 5 MB)</li>",
            ["- The water bill as passed (PDF, 2 MB)", "- Map of the aquifer's wells (PDF, 5 MB)"],
        ),
        # A list of plain items, one of them linked.
        (
            "<li>Meters read every month</li><li><a href='/fines'>Fines that rise each month</a></li>",
            ["- Meters read every month", "- Fines that rise each month"],
        ),
    ],
)
def test_lists_that_are_not_only_links_are_kept(items: str, shown: list[str]) -> None:
    html = page(
        f"<article><h1>Water bill passes</h1>{paragraphs_html(PARAGRAPHS[:2])}<ul>{items}</ul></article>"
    )
    assert extract(html, URL).text.split("\n\n")[2:] == shown


def test_japanese_first_section_title_after_the_headline_is_kept() -> None:
    paragraphs = [
        "港湾市議会は火曜日の夜、東岸の使われなくなった鉄道操車場を公園にする計画を9対4で可決した。",
        "計画には900メートルの遊歩道、二つの遊び場、市民農園が含まれる。工事は来年の春に始まる予定だ。",
    ]
    html = (
        "<!DOCTYPE html><html lang='ja'><head><title>公園計画を承認</title></head><body><article>"
        f"<h1>公園計画を承認</h1><h2>市議会で賛成多数により可決</h2>{paragraphs_html(paragraphs)}</article></body></html>"
    )
    assert extract(html, URL).text.split("\n\n") == ["市議会で賛成多数により可決", *paragraphs]


# --- image captions ----------------------------------------------------------------------


def test_paragraph_that_is_also_an_image_alt_text_is_kept() -> None:
    """Some sites set an image's alternative text to a paragraph of the article: still text."""
    html = page(
        f"<article><h1>Water bill passes</h1><img src='/meter.jpg' alt=\"{escape(PARAGRAPHS[1])}\">"
        f"{paragraphs_html()}</article>"
    )
    assert extract(html, URL).text.split("\n\n") == PARAGRAPHS


@pytest.mark.parametrize(
    "line",
    ["Reading time: 4 minutes", "Tempo de leitura: 2 minutos", "5 min read", "12 comments", "Comments (3)"],
)
def test_reading_time_and_comment_count_lines_are_not_text(line: str) -> None:
    texts = [*PARAGRAPHS[:2], line, PARAGRAPHS[2]]
    html = page(f"<article><h1>Water bill passes</h1>{paragraphs_html(texts)}</article>")
    assert extract(html, URL).text.split("\n\n") == PARAGRAPHS


@pytest.mark.parametrize(
    "paragraph",
    [
        "Comments from the public will be heard until 30 April, the ministry said.",
        "Reading time at the library has been cut to 2 hours.",
    ],
)
def test_sentences_about_comments_and_reading_are_kept(paragraph: str) -> None:
    texts = [*PARAGRAPHS[:2], paragraph, PARAGRAPHS[2]]
    html = page(f"<article><h1>Water bill passes</h1>{paragraphs_html(texts)}</article>")
    assert extract(html, URL).text.split("\n\n") == texts


def test_paragraphs_of_one_link_fewer_than_three_or_with_words_are_kept() -> None:
    links = [
        "<a href='/bill.pdf'>The water bill as passed by parliament</a>",
        "<a href='/map.pdf'>The map of the aquifer's 4,000 wells</a>",
    ]
    with_words = [f"Read it here: {link}" for link in links]
    html = page(
        f"<article><h1>Water bill passes</h1>{paragraphs_html(PARAGRAPHS)}{paragraphs_html(links)}"
        f"{paragraphs_html(with_words)}</article>"
    )
    assert extract(html, URL).text.split("\n\n")[3:] == [
        "The water bill as passed by parliament",
        "The map of the aquifer's 4,000 wells",
        "Read it here: The water bill as passed by parliament",
        "Read it here: The map of the aquifer's 4,000 wells",
    ]
