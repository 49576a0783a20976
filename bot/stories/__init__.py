"""Story grouping: assign every news item to a story, online, across outlets.

Pure and synchronous (no Discord, no database): run it in an executor.
"""

from bot.stories.errors import InvalidStoryStateError, StoryError
from bot.stories.grouper import StoryGrouper
from bot.stories.metrics import bcubed
from bot.stories.types import GroupingConfig, Story, StoryItem

__all__ = [
    "GroupingConfig",
    "InvalidStoryStateError",
    "Story",
    "StoryError",
    "StoryGrouper",
    "StoryItem",
    "bcubed",
]
