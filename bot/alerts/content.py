"""The text of a breaking-story alert: who is mentioned, and nothing else can ping.

Feed text goes into the message, and feed text is untrusted: a headline "@everyone Breaking" or
"<@&123> wins" must not ping anyone. Mentions in it are broken with a zero-width space, and the
caller passes ``allowed_role_ids`` as the message's allowed mentions (no everyone, no users, only
that role), so even a mention that slipped through could not ping.
"""

from __future__ import annotations

from bot.alerts.types import AlertArticle, AlertStory
from bot.alerts.voices import article_voices
from bot.delivery.message import CONTENT_LIMIT, DESCRIPTION_LIMIT, EmbedSpec
from bot.digests.headline import display_title, pick_headline
from bot.digests.text import join_names, lead_sentences
from bot.discord_text import discord_length, escape_markdown, fit, link, safe_url

__all__ = ["CONTENT_LIMIT", "alert_content"]

#: Outlets linked in the alert before "and N more".
MAX_NAMED_SOURCES = 8


def alert_content(
    story: AlertStory, *, role_id: int | None, label: str = "Breaking", count_reprints: bool = False
) -> tuple[str, EmbedSpec, tuple[int, ...]]:
    """``(content, embed, allowed_role_ids)`` for the alert message (post or edit).

    The content opens with ``label`` (Markdown, escaped by the caller) and mentions ``role_id``
    if the channel set one; ``allowed_role_ids`` is that role
    alone, or empty. The embed shows the best headline, a short summary and the outlets so far
    (the story's voices, :mod:`bot.alerts.voices`, as the alert decision counts them).
    """
    if not story.articles:
        raise ValueError("a story without articles cannot be alerted")
    articles = sorted(story.articles, key=_chronological)
    best = articles[pick_headline([a.title for a in articles], [a.published for a in articles])]
    # Shown as digests show it: without the outlet's " - Reuters" or " | BBC News" suffix.
    own_names = [n for n in (best.display_name, best.source) if n]
    headline = display_title(best.title, own_names) or "Breaking story"
    # A story of recurring titles only has no voice; a topic alert about it still names one.
    firsts = _outlets(AlertStory(story.story_id, tuple(articles)), count_reprints) or articles[:1]
    count = len(firsts)

    mention = f"<@&{role_id}> " if role_id is not None else ""
    prefix = f"{mention}**{label}:** "
    content = prefix + fit(escape_markdown(headline), CONTENT_LIMIT - discord_length(prefix))
    allowed = (role_id,) if role_id is not None else ()

    title = escape_markdown(headline)  # EmbedSpec fits it, and the footer, to Discord's limits
    summary = escape_markdown(lead_sentences(best.summary, max_chars=300))
    names = [link(a.shown_name, a.url) for a in firsts[: MAX_NAMED_SOURCES + 1]]
    outlets = "outlet" if count == 1 else "outlets"
    byline = f"Reported by {count} {outlets}: {join_names(names, max_named=MAX_NAMED_SOURCES, total=count)}"
    if discord_length(byline) + discord_length(summary) + 2 > DESCRIPTION_LIMIT:
        plain = [escape_markdown(a.shown_name) for a in firsts[:4]]
        byline = fit(
            f"Reported by {count} {outlets}: {join_names(plain, total=count)}", DESCRIPTION_LIMIT // 2
        )
        summary = fit(summary, DESCRIPTION_LIMIT - discord_length(byline) - 4)
    description = "\n\n".join(part for part in (summary, byline) if part)
    embed = EmbedSpec(
        title=title,
        url=safe_url(best.url),
        description=description,
        footer_text=f"{count} {outlets} so far",
        timestamp=articles[0].published,
    )
    return content, embed, allowed


def _chronological(article: AlertArticle) -> tuple[bool, float, str, str, str]:
    # Ties broken on the content, so the input order never changes the result.
    published = article.published
    when = published.timestamp() if published is not None else 0.0
    return (published is None, when, article.url, article.source, article.title)


def _outlets(story: AlertStory, count_reprints: bool) -> list[AlertArticle]:
    """The first article of each voice (the story's articles are in chronological order)."""
    firsts: dict[str, AlertArticle] = {}
    for article, voice in zip(
        story.articles, article_voices(story, count_reprints=count_reprints), strict=True
    ):
        if voice is not None:
            firsts.setdefault(voice, article)
    return list(firsts.values())
