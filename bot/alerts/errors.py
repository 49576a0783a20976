"""Errors of alerts: settings or keywords a user gave that we cannot use."""

from __future__ import annotations

from bot.errors import NewsdeskError

__all__ = ["AlertError", "AlertSettingsError", "KeywordError"]


class AlertError(NewsdeskError):
    """Root of the alert errors."""


class AlertSettingsError(AlertError, ValueError):
    """Breaking-alert settings out of range (fewer than 2 sources, a window of zero minutes...)."""


class KeywordError(AlertError, ValueError):
    """A topic-alert keyword is empty, too long or has nothing to match on."""
