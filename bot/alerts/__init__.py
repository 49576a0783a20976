"""Breaking-story and topic alerts: when a story is breaking, what to post or edit, and its text.

Pure (no network, no database, no Discord): delivery calls these with the current time.
"""

from bot.alerts.breaking import decide_alert, distinct_outlets, is_breaking
from bot.alerts.content import alert_content
from bot.alerts.errors import AlertError, AlertSettingsError, KeywordError
from bot.alerts.keywords import KeywordAlert, match_keywords
from bot.alerts.types import (
    AlertAction,
    AlertArticle,
    AlertKind,
    AlertSettings,
    AlertStory,
    ChannelAlertState,
)

__all__ = [
    "AlertAction",
    "AlertArticle",
    "AlertError",
    "AlertKind",
    "AlertSettings",
    "AlertSettingsError",
    "AlertStory",
    "ChannelAlertState",
    "KeywordAlert",
    "KeywordError",
    "alert_content",
    "decide_alert",
    "distinct_outlets",
    "is_breaking",
    "match_keywords",
]
