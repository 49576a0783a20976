"""Pre-cleaning: remove blocks of other stories' headlines and teasers before extraction.

News pages surround the article with "Latest posts", "Related articles" and
"More from ..." blocks. When they are marked up as ``aside``/``nav`` trafilatura
drops them, but many pages build them from plain ``div``s with neutral class
names and then their teaser paragraphs pass for article text. Two signals do not
depend on markup: a block introduced by such a heading, and a run of sibling
items that each lead with a link to another page (a headline) and carry little
prose of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree
from lxml.html import HtmlElement

# Headings that introduce other stories, matched against the whole heading text.
_TEASER_HEADING = re.compile(
    r"""^(?:
        (?:the\s+)?latest(?:\s+(?:posts?|articles?|news|stories|headlines|updates|videos?|from\b.*))?
      | related(?:\s+(?:posts?|articles?|stories|news|content|coverage|reading|links|videos?))?
      | more\s+(?:from|on|in|about|by|stories|articles|news|posts|headlines|to\s+(?:read|explore)
                |like\s+this|top\s+stories|coverage|videos?)\b.*
      | read\s+(?:more|next|also)\b.*
      | (?:you|we\s+think\s+you)\s+(?:may|might|will|would)\s+(?:also\s+)?
        (?:like|enjoy|love|be\s+interested).*
      | recommended(?:\s+(?:for\s+you|stories|articles|reading|videos?))?
      | most\s+(?:popular|read|viewed|shared|commented|recent)\b.*
      | (?:popular|trending)(?:\s+(?:now|posts?|articles?|stories|news|today|this\s+week))?
      | (?:top|other|recent|similar|featured|recommended|sponsored)\s+
        (?:stories|articles|posts|news|headlines|content)
      | editor'?s?[’']?\s+(?:picks?|choice)
      | also\s+(?:read|on|in)\b.*
      | (?:don[’']?t|do\s+not)\s+miss\b.*
      | (?:what|where)\s+to\s+read\s+next
      | (?:up|coming\s+up)\s+next
      | in\s+other\s+news
      | (?:more|news)\s+headlines
      | (?:around|elsewhere)\s+(?:the\s+web|on\s+\w+)
    )[\s:»›>.!…|-]*$""",
    re.IGNORECASE | re.VERBOSE,
)
_HEADING_TAGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Elements that may act as a heading on pages that do not use h1-h6.
_PSEUDO_HEADING_TAGS = frozenset({"div", "span", "p", "strong", "b", "header", "dt", "label", "section"})
_INLINE_TAGS = frozenset({"span", "strong", "b", "em", "i", "a", "svg", "small", "img", "br"})
_INVISIBLE_TAGS = frozenset({"script", "style", "noscript", "template"})
_PSEUDO_HEADING_LEVEL = 2
# Lengths are counted in non-space characters.
_MAX_HEADING_CHARS = 50
# Text a heading's wrapper may add to it ("See all", "›") and still be its wrapper.
_MAX_WRAPPER_EXTRA_CHARS = 25
# Prose an item may carry per link and still be a teaser (a headline and a standfirst).
_TEASER_PROSE_PER_LINK = 350
# A teaser's links are a good share of its text; an article paragraph's inline link is not.
_MIN_TEASER_LINK_SHARE = 0.15
# A line that may sit between teasers without ending the block (a date, "Sponsored").
_MAX_STRAY_CHARS = 35
# A teaser's headline is a link of at least this length.
_MIN_HEADLINE_CHARS = 12
# Unheaded teaser runs: at least this many sibling items that each lead with a linked headline.
_MIN_TEASER_RUN = 3
# A sign-up box: a form asking for an e-mail address, with at most this much text around it.
_MAX_SIGNUP_BOX_CHARS = 250
# A card of links inside a paragraph: this many links, this long, nearly all link text.
_MIN_CARD_LINKS = 3
_MIN_CARD_CHARS = 60
_MIN_CARD_LINK_SHARE = 0.9
# A list of other stories' headlines, each item one link and nothing else.
_MIN_HEADLINE_LIST = 2
# Never remove a block holding more than this share of the page's text: that is the article.
_MAX_SHARE_OF_PAGE = 0.5


@dataclass(slots=True)
class _Stats:
    """What the rules need to know about an element's subtree, measured once."""

    chars: int = 0
    link_chars: int = 0
    links: int = 0
    headings: int = 0
    #: The lowest level (h1 = 1) of a heading in the subtree that is not a link; 7 when none.
    plain_heading_level: int = 7
    #: The subtree's first heading, when no text comes before it.
    lead_heading: HtmlElement | None = None
    in_link: bool = False


def remove_teaser_blocks(tree: HtmlElement) -> int:
    """Remove teaser blocks from ``tree`` in place; return how many elements were removed."""
    body = tree.find(".//body")
    if body is None:
        body = tree
    stats = _measure(body)
    page_chars = stats[body].chars
    if not page_chars:
        return 0
    doomed: list[HtmlElement] = []
    for heading, level in _teaser_headings(body, stats):
        section = _section(heading, level, body, stats)
        if _removable(section, stats, page_chars):
            doomed.extend(section)
    for run in _teaser_runs(body, stats):
        if _removable(run, stats, page_chars):
            doomed.extend(run)
    doomed.extend(_signup_boxes(body, stats))
    doomed.extend(_link_cards(body, stats))
    doomed.extend(_headline_lists(body, stats))
    removed = 0
    for element in doomed:
        # An element may sit inside one removed before it.
        if any(ancestor is body for ancestor in element.iterancestors()):
            _drop(element)
            removed += 1
    return removed


def _measure(body: HtmlElement) -> dict[HtmlElement, _Stats]:
    """Stats for every element under ``body``, in one pass down and one pass up."""
    stats: dict[HtmlElement, _Stats] = {}
    for element in body.iter(etree.Element):  # elements only, parents before children
        st = _Stats()
        parent = element.getparent()
        parent_stats = stats.get(parent) if parent is not None else None
        st.in_link = (element.tag == "a" and bool(element.get("href"))) or (
            parent_stats is not None and parent_stats.in_link
        )
        stats[element] = st
    for element, st in reversed(stats.items()):
        tag = element.tag
        if not isinstance(tag, str) or tag in _INVISIBLE_TAGS:  # elements only: tags are str
            continue
        level = _HEADING_TAGS.get(tag)
        lead = element if level is not None else None
        lead_open = level is None
        chars = _nchars(element.text)
        if chars:
            lead_open = False
        link_chars = links = headings = 0
        plain_level = 7
        for child in element:
            child_stats = stats.get(child)
            if child_stats is not None:  # not a comment
                if lead_open:
                    if child_stats.lead_heading is not None:
                        lead = child_stats.lead_heading
                        lead_open = False
                    elif child_stats.chars:
                        lead_open = False
                chars += child_stats.chars
                link_chars += child_stats.link_chars
                links += child_stats.links
                headings += child_stats.headings
                if child_stats.plain_heading_level < plain_level:
                    plain_level = child_stats.plain_heading_level
            tail = _nchars(child.tail)
            if tail:
                chars += tail
                lead_open = False
        if st.in_link:
            link_chars = chars
        if tag == "a" and element.get("href"):
            links += 1
        if level is not None:
            headings += 1
            if not links and not st.in_link and level < plain_level:
                plain_level = level
        st.chars, st.link_chars, st.links, st.headings = chars, link_chars, links, headings
        st.plain_heading_level, st.lead_heading = plain_level, lead
    return stats


def _teaser_headings(
    body: HtmlElement, stats: dict[HtmlElement, _Stats]
) -> Iterator[tuple[HtmlElement, int]]:
    for element, st in stats.items():
        if not 0 < st.chars <= _MAX_HEADING_CHARS:
            continue
        tag = element.tag
        if tag == "h1":
            continue  # the page's own headline, even when it reads "Latest news"
        if tag in _HEADING_TAGS:
            level = _HEADING_TAGS[tag]
        elif tag in _PSEUDO_HEADING_TAGS and not st.in_link and _is_leaf(element):
            level = _PSEUDO_HEADING_LEVEL
        else:
            continue
        if is_teaser_heading(" ".join(element.text_content().split())):
            yield element, level


def is_teaser_heading(text: str) -> bool:
    """Whether ``text`` (a heading's, spaces normalised) introduces other stories ("Latest posts")."""
    return _TEASER_HEADING.match(text) is not None


def _section(
    heading: HtmlElement, level: int, body: HtmlElement, stats: dict[HtmlElement, _Stats]
) -> list[HtmlElement]:
    """The heading (with its wrapper) and the following siblings it introduces; empty when
    prose follows the heading directly."""
    heading_chars = stats[heading].chars
    own_headings = 1 if heading.tag in _HEADING_TAGS else 0
    wrapper = heading
    # Climb out of wrappers that add nothing but a "See all" link or an icon.
    while True:
        parent = wrapper.getparent()
        if parent is None or parent is body:
            break
        parent_stats = stats[parent]
        if (
            parent_stats.chars - heading_chars > _MAX_WRAPPER_EXTRA_CHARS
            or parent_stats.headings > own_headings
        ):
            break
        wrapper = parent
    members = [wrapper]
    after_teaser = False
    for sibling in wrapper.itersiblings():
        st = stats.get(sibling)
        if st is None:  # a comment
            continue
        if st.plain_heading_level <= level:
            break
        prose = st.chars - st.link_chars
        if (
            st.links
            and prose <= _TEASER_PROSE_PER_LINK * st.links
            and st.link_chars >= _MIN_TEASER_LINK_SHARE * st.chars
        ):
            after_teaser = True
        elif not st.links and (
            prose <= _MAX_STRAY_CHARS or (after_teaser and prose <= _TEASER_PROSE_PER_LINK)
        ):
            # A date line; or, in flat markup, the standfirst after a linked headline.
            after_teaser = False
        elif len(members) == 1:
            # Prose right under the heading: an article's own subheading ("More on the drought").
            return []
        else:
            break
        members.append(sibling)
    return members


def _teaser_runs(body: HtmlElement, stats: dict[HtmlElement, _Stats]) -> Iterator[list[HtmlElement]]:
    """Runs of sibling items that each lead with a linked headline (or are one, as paragraphs)."""
    for parent in stats:
        if len(parent) < _MIN_TEASER_RUN:
            continue
        run: list[HtmlElement] = []
        for child in parent:
            st = stats.get(child)
            if st is None or not st.chars:
                continue  # comments and empty spacers do not break a run
            if _is_teaser_item(child, st, stats):
                run.append(child)
                continue
            if len(run) >= _MIN_TEASER_RUN:
                yield run
            run = []
        if len(run) >= _MIN_TEASER_RUN:
            yield run


def _signup_boxes(body: HtmlElement, stats: dict[HtmlElement, _Stats]) -> Iterator[HtmlElement]:
    """Newsletter sign-up boxes: the largest small block around an e-mail form."""
    for form in body.iter("form"):
        if not form.xpath(".//input[@type='email' or contains(@name, 'mail')]"):
            continue
        box = form
        while (parent := box.getparent()) is not None and parent is not body:
            if stats[parent].chars > _MAX_SIGNUP_BOX_CHARS:
                break
            box = parent
        yield box


def _link_cards(body: HtmlElement, stats: dict[HtmlElement, _Stats]) -> Iterator[HtmlElement]:
    """Cards of links inside running text: the pop-up of a linked name listing its latest stories."""
    for paragraph in body.iter("p"):
        paragraph_stats = stats.get(paragraph)
        if paragraph_stats is None or paragraph_stats.links < _MIN_CARD_LINKS:
            continue
        for element in paragraph.iterdescendants(etree.Element):
            if not _is_card(element, stats):
                continue
            card = _card_without_its_name(element, stats)
            # The sentence around the card is the paragraph's own.
            if paragraph_stats.chars - stats[card].chars >= _MIN_CARD_CHARS:
                yield card  # its descendants are removed with it


def _is_card(element: HtmlElement, stats: dict[HtmlElement, _Stats]) -> bool:
    st = stats.get(element)
    return (
        st is not None
        and not st.in_link
        and st.links >= _MIN_CARD_LINKS
        and st.chars >= _MIN_CARD_CHARS
        and st.link_chars >= _MIN_CARD_LINK_SHARE * st.chars
    )


def _card_without_its_name(card: HtmlElement, stats: dict[HtmlElement, _Stats]) -> HtmlElement:
    """The card inside a wrapper that holds it and the linked name it pops up from, which is the
    sentence's word."""
    while True:
        inner = [child for child in card if _is_card(child, stats)]
        if len(inner) != 1 or stats[card].links - stats[inner[0]].links > 1:
            return card
        card = inner[0]


def _headline_lists(body: HtmlElement, stats: dict[HtmlElement, _Stats]) -> Iterator[HtmlElement]:
    """Lists whose every item is one link to another story, and nothing else: a "related" list
    set in the article without a heading."""
    for list_ in body.iter("ul", "ol"):
        items = [child for child in list_ if isinstance(child.tag, str)]
        if len(items) >= _MIN_HEADLINE_LIST and all(
            item.tag == "li" and _is_headline_item(stats[item]) for item in items
        ):
            yield list_


def _is_headline_item(st: _Stats) -> bool:
    return st.links == 1 and st.chars >= _MIN_HEADLINE_CHARS and st.link_chars == st.chars


def _is_teaser_item(item: HtmlElement, st: _Stats, stats: dict[HtmlElement, _Stats]) -> bool:
    """A linked headline leading the item, then at most a short standfirst."""
    if item.tag == "p":
        # A paragraph that is one link and nothing else: a rail of headlines set as paragraphs
        # (an article's paragraph is more than a link).
        return _is_headline_item(st)
    if item.tag in _INLINE_TAGS or item.tag in _HEADING_TAGS:
        return False
    headline = st.lead_heading
    if headline is None:
        return False
    headline_stats = stats[headline]
    headline_link_chars = headline_stats.chars if headline_stats.in_link else headline_stats.link_chars
    return headline_link_chars >= _MIN_HEADLINE_CHARS and st.chars - st.link_chars <= _TEASER_PROSE_PER_LINK


def _removable(elements: list[HtmlElement], stats: dict[HtmlElement, _Stats], page_chars: int) -> bool:
    return sum(stats[e].chars for e in elements) <= _MAX_SHARE_OF_PAGE * page_chars


def _is_leaf(element: HtmlElement) -> bool:
    """No element children other than inline formatting."""
    return all(not isinstance(child.tag, str) or child.tag in _INLINE_TAGS for child in element)


def _drop(element: HtmlElement) -> None:
    """Remove ``element`` but keep its tail text, which belongs to the parent."""
    parent = element.getparent()
    if parent is None:  # the root: nothing to remove it from
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _nchars(text: str | None) -> int:
    """Non-space characters: markup indentation must not count as text."""
    if not text or text.isspace():  # most text nodes are markup indentation
        return 0
    return len(text) - sum(map(text.count, " \n\t\r\xa0"))
