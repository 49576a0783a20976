"""A remembered feed item as an entry, to preview a template on it (``/feed format preview``)."""

from __future__ import annotations

from bot.feeds.types import FeedEntry
from bot.storage.feed_records import ItemRow


def entry_from_item(item: ItemRow) -> FeedEntry:
    """``item`` as a :class:`FeedEntry`. Only what an item row keeps is there (no categories,
    no content): a preview shows ``{categories}`` empty.
    """
    return FeedEntry(
        guid=None,
        link=item.url,
        title=item.title,
        summary=item.summary,
        content_html=None,
        author=item.author,
        published=item.published_at,
        updated=item.published_at,
        categories=(),
        image_url=item.image_url,
        enclosure_url=None,
    )
