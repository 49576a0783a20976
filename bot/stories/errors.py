"""Errors of story grouping."""

from __future__ import annotations

from bot.errors import NewsdeskError

__all__ = ["InvalidStoryStateError", "StoryError"]


class StoryError(NewsdeskError):
    """Root of the story-grouping errors."""


class InvalidStoryStateError(StoryError, ValueError):
    """A saved grouping state is malformed or from an unknown version; it cannot be restored."""
