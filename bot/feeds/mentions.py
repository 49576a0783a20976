"""Role mentions per subscription (``/feed mention``): which posts ping a role, and which roles
a member may make the bot ping. Pure.

A subscription may name one role (``mention_role_id``), pinged on each of its new posts, or
only on those matching ``mention_include`` (the include syntax of ``/feed filter``: keywords or
``/regex/flags``). The mention is added to the post already built (:func:`with_mention`): its
content starts with ``<@&id>`` and its ``allowed_role_ids`` holds that role alone, so text from
the feed (escaped when the post is built) still pings nobody.

The pipeline judges ``mention_include`` with the filters' time budget, in their threads
(:meth:`bot.feeds.fanout.Fanout.judge_mentions`); a pattern that runs out of time counts as no
match, so a slow pattern costs a ping, never a post.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from bot.delivery.message import MessageSpec
from bot.feeds.filters import EntryFilter
from bot.feeds.types import FeedEntry
from bot.storage.feed_records import SubscriptionRecord
from bot.storage.outbox import OutboxMessage


@dataclass(frozen=True, slots=True)
class RoleFacts:
    """What the decision needs of a Discord role (the cog reads it from ``discord.Role``)."""

    id: int
    #: How to show it in a reply (``<@&id>``: replies allow no mentions, so it never pings).
    mention: str
    #: @everyone (its id is the server's).
    is_default: bool = False
    #: Kept by an integration: a bot's own role, a server booster or a linked app's role.
    managed: bool = False
    #: Anyone may mention it ("Allow anyone to @mention this role").
    mentionable: bool = False


def mention_refusal(role: RoleFacts, *, may_mention_everyone: bool) -> str | None:
    """Why ``role`` may not be pinged on a manager's say, or ``None`` when it may.

    ``may_mention_everyone`` is the member's Mention @everyone permission in the subscription's
    channel. The rule is Discord's own: a member pings a role that is not mentionable only with
    that permission, and the bot must not ping for a manager a role they could not ping
    themselves. @everyone and roles kept by integrations are never pinged.
    """
    if role.is_default:
        return "Feed posts can't mention @everyone; pick a role."
    if role.managed:
        return (
            f"{role.mention} is kept by an integration (a bot's or booster role); "
            "pick a role members take or are given."
        )
    if not role.mentionable and not may_mention_everyone:
        return (
            f"You can't mention {role.mention} yourself in that channel: the role is not mentionable "
            "and you need the Mention @everyone permission there. Make the role mentionable, or ask "
            "someone with that permission."
        )
    return None


def mention_filter(sub: SubscriptionRecord) -> EntryFilter | None:
    """The filter deciding which posts ping, or ``None`` when every post does (or none)."""
    if sub.mention_role_id is None or not sub.mention_include:
        return None
    return EntryFilter(sub.mention_include)


def mention_for(sub: SubscriptionRecord, entry: FeedEntry, *, matched: bool | None = None) -> int | None:
    """The role a post of ``entry`` to ``sub`` pings, or ``None``.

    ``matched`` is the verdict of :func:`mention_filter` on ``entry`` when already judged (the
    pipeline judges within a time budget); without it the patterns are matched here, each
    under the filter's own time limit (a timeout counts as no match).
    """
    if sub.mention_role_id is None:
        return None
    if not sub.mention_include:
        return sub.mention_role_id
    if matched is None:
        entry_filter = mention_filter(sub)
        matched = entry_filter is not None and entry_filter.evaluate(entry).matched
    return sub.mention_role_id if matched else None


def with_mention(spec: MessageSpec, role_id: int | None, *, ping: bool = True) -> MessageSpec:
    """``spec`` pinging ``role_id``: the mention first in its content, and that role alone
    allowed. ``None`` leaves the spec as built (it pings nobody). With ``ping=False`` the
    mention shows but pings nobody (``/feed test``).
    """
    if role_id is None:
        return spec
    mention = f"<@&{role_id}>"
    content = f"{mention} {spec.content}" if spec.content else mention
    return dataclasses.replace(spec, content=content, allowed_role_ids=(role_id,) if ping else ())


def mention_post(message: OutboxMessage, role_id: int | None, *, ping: bool = True) -> OutboxMessage:
    """The outbox row ``message`` with its post mentioning ``role_id`` (see :func:`with_mention`)."""
    if role_id is None:
        return message
    return dataclasses.replace(message, spec=with_mention(message.spec, role_id, ping=ping))


def mention_flags(sub: SubscriptionRecord, verdicts: Sequence[bool] | None, count: int) -> list[bool]:
    """For each of ``count`` entries, whether its post to ``sub`` pings: every one when the
    subscription has a role and no patterns, those ``verdicts`` passed when it has patterns
    (none judged: none pings), none without a role.
    """
    if sub.mention_role_id is None:
        return [False] * count
    if not sub.mention_include:
        return [True] * count
    if verdicts is None:
        return [False] * count
    return [bool(v) for v in verdicts]
