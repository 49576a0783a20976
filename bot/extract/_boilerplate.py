"""Post-cleaning: paragraphs of the page's furniture that reach the extracted text.

Inside an article's container many sites put lines that address the reader rather than tell
the story: a newsletter sign-up, "Follow us on Twitter", "Write to the author at ...", a
"READ MORE: other headline" link line, the reading time, the title of a comments block left
alone on its line. They read like prose, so the
extractor keeps them; their wording gives them away. Each is recognised only in a short
paragraph (a real paragraph that mentions a newsletter is longer than the plug for one).
So is an image's caption that repeats its alternative text.
"""

from __future__ import annotations

import re

from lxml.etree import XPath
from lxml.html import HtmlElement

# An image's alternative text this long is a caption, not a word ("logo", "photo").
_MIN_CAPTION_WORDS = 2
_PARAGRAPH_WITH_TEXT = XPath("boolean(//p[normalize-space() = $text])")
# Longer than this, a paragraph is the article's own text whatever it mentions.
_MAX_WORDS = 60

_SOCIAL = r"(?:twitter|x|facebook|instagram|linkedin|youtube|tiktok|threads|mastodon|bluesky)"
# Where a sentence starts: the plugs speak to the reader in the imperative.
_START = r"(?:^|[.!?:]\s+)"
# Lines that start so (matched at the start only: searching costs a pass per position).
_FURNITURE_LINE = re.compile(
    r"""
    # the author's address
      (?:write\s+to|e-?mail|contact|reach)\s+[^.]{0,60}?\s+at\s+(?:[\w.+-]+@[\w-]+\.\w|https?://|@\w)
    | have\s+a\s+(?:news\s+)?tip\?
    # a link line to another story
    | [(\[]?\s*(?:read\s+(?:more|also|next)|see\s+(?:more|also)|also\s+read|more\s+on\s+this
        |related|watch|listen|leggi\s+anche|(?:à\s+)?lire\s+aussi|lea\s+también|lee\s+también
        |mehr\s+zum\s+thema|lesen\s+sie\s+auch|leia\s+também|veja\s+também)\b[^:]{0,20}:
    # the reading time
    | (?:reading\s+time|read\s+time|tempo\s+de\s+leitura|tiempo\s+de\s+lectura|temps\s+de\s+lecture
        |lesezeit|tempo\s+di\s+lettura)\s*:?\s*(?:about\s+|cerca\s+de\s+)?\d+\s*\w*\.?$
    | \d+\s*(?:-\s*)?min(?:ute)?s?\.?\s+read$
    # what is left of the comments and sharing blocks: their titles alone on a line
    | (?:\d+\s+)?(?:comments?|coment[aá]rios?|commentaires?|kommentare?|commenti|comentarios?)
        (?:\s*\(\d+\))?[\s:.]*$
    | (?:leave\s+a\s+(?:comment|reply)|join\s+the\s+(?:conversation|discussion)
        |share\s+(?:this|the)\s+(?:article|story|post|page)|advertisement)[\s:.!]*$
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Sentences anywhere in the line, looked for only when one of their words is in it.
_FURNITURE_CLUES = ("sign", "subscri", "inbox", "follow", "reached")
_FURNITURE_SENTENCE = re.compile(
    r"""
    # a newsletter, podcast or channel plug
      """
    + _START
    + r"""(?:click\s+here\s+to\s+|please\s+)?(?:sign\s*up|subscribe)\b.{0,80}
        \b(?:newsletters?|inbox|(?:youtube\s+)?channel|podcast|(?:news\s+|e-?mail\s+)?alerts)\b
    | \bdelivered\s+(?:straight\s+|directly\s+|right\s+)?(?:to|in(?:to)?)\s+your\s+inbox\b
    # the author's or the site's social accounts and address
    | """
    + _START
    + r"""follow\s+(?:us|him|her|them|me|@\w+|[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){0,2})
        \s+(?:on\s+"""
    + _SOCIAL
    + r"""\b|@\w+)
    | \bmay\s+be\s+reached\s+at\s+[\w.+-]+@[\w-]+\.\w
    """,
    re.IGNORECASE | re.VERBOSE,
)


def is_furniture(paragraph: str) -> bool:
    """Whether ``paragraph`` is a plug, a contact line, a link line or a notice of the page."""
    if len(paragraph.split()) > _MAX_WORDS:
        return False
    if _FURNITURE_LINE.match(paragraph):
        return True
    lowered = paragraph.lower()
    return (
        any(clue in lowered for clue in _FURNITURE_CLUES)
        and _FURNITURE_SENTENCE.search(paragraph) is not None
    )


def image_alts(tree: HtmlElement) -> set[str]:
    """The alternative texts of the page's images (of a few words), spaces normalised."""
    alts = set()
    for image in tree.iter("img"):
        alt = " ".join((image.get("alt") or "").split())
        if len(alt.split()) >= _MIN_CAPTION_WORDS:
            alts.add(alt)
    return alts


def without_furniture(paragraphs: list[str], alts: set[str], tree: HtmlElement) -> list[str]:
    """``paragraphs`` without those :func:`is_furniture` recognises, and without the captions
    of the page's images: a line that repeats an image's alternative text (``alts``), which the
    page shows outside a paragraph (an image whose alternative text is a paragraph of the
    article leaves the paragraph in)."""
    return [
        p
        for p in paragraphs
        if not is_furniture(p) and not (p in alts and not _PARAGRAPH_WITH_TEXT(tree, text=p))
    ]
