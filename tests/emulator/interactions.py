"""Interactions: the INTERACTION_CREATE payloads the emulator sends and what the bot answered.

An :class:`InteractionRecord` is the live state of one interaction (acknowledged?
when? which messages?); :class:`InteractionResult` is the frozen snapshot a test
asserts on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tests.emulator.messages import EPHEMERAL
from tests.emulator.world import Channel, Guild, Member

PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
PONG, MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE, AUTOCOMPLETE_RESULT, MODAL = 1, 4, 5, 6, 7, 8, 9
CALLBACKS_FOR = {
    APPLICATION_COMMAND: {MESSAGE, DEFERRED_MESSAGE, MODAL},
    MESSAGE_COMPONENT: {MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE, MODAL},
    MODAL_SUBMIT: {MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE},
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    PING: {PONG},
}
TOKEN_LIFETIME_S = 15 * 60
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

OPTION_SUB_COMMAND, OPTION_GROUP = 1, 2
OPTION_STRING, OPTION_INTEGER, OPTION_BOOLEAN, OPTION_USER = 3, 4, 5, 6
OPTION_CHANNEL, OPTION_ROLE, OPTION_MENTIONABLE, OPTION_NUMBER, OPTION_ATTACHMENT = 7, 8, 9, 10, 11


@dataclass(frozen=True)
class CallError:
    """A request about this interaction that the emulator refused."""

    at_ms: float
    method: str
    path: str
    status: int
    code: int
    message: str


@dataclass
class InteractionRecord:
    id: int
    token: str
    type: int
    payload: dict[str, Any]
    channel_id: int
    guild_id: int | None
    dispatched_at: float = 0.0
    """Monotonic time the INTERACTION_CREATE went out (the 3-second clock starts here)."""
    source_message: dict[str, Any] | None = None
    acked_at: float | None = None
    callback_type: int | None = None
    callback_data: dict[str, Any] | None = None
    original: dict[str, Any] | None = None
    followups: list[dict[str, Any]] = field(default_factory=list)
    edits: list[float] = field(default_factory=list)
    errors: list[CallError] = field(default_factory=list)
    timeline: list[tuple[float, str]] = field(default_factory=list)
    last_activity: float = 0.0

    def ms_since_dispatch(self, now: float | None = None) -> float:
        return ((time.monotonic() if now is None else now) - self.dispatched_at) * 1000

    def note(self, what: str, now: float | None = None) -> None:
        moment = time.monotonic() if now is None else now
        self.timeline.append((round(self.ms_since_dispatch(moment), 1), what))
        self.last_activity = moment

    @property
    def settled(self) -> bool:
        """The bot gave its answer: a final callback, or a deferral followed by a message."""
        if self.callback_type is None:
            return bool(self.errors)
        if self.callback_type in (DEFERRED_MESSAGE, DEFERRED_UPDATE):
            return bool(self.edits or self.followups)
        return True

    def snapshot(self) -> InteractionResult:
        primary: dict[str, Any] | None
        if self.callback_type in (UPDATE, DEFERRED_UPDATE):
            primary = self.source_message
        elif self.original is not None and not (self.callback_type == DEFERRED_MESSAGE and not self.edits):
            primary = self.original
        else:
            primary = self.followups[0] if self.followups else self.original
        messages = [m for m in [self.original, *self.followups] if m is not None]
        data = self.callback_data or {}
        return InteractionResult(
            id=self.id,
            token=self.token,
            type=self.type,
            callback_type=self.callback_type,
            ack_ms=None if self.acked_at is None else round((self.acked_at - self.dispatched_at) * 1000, 1),
            message=primary,
            content=(primary or {}).get("content", ""),
            embeds=list((primary or {}).get("embeds", [])),
            components=list((primary or {}).get("components", [])),
            attachments=list((primary or {}).get("attachments", [])),
            ephemeral=bool((primary or {}).get("flags", 0) & EPHEMERAL),
            original=self.original,
            followups=list(self.followups),
            messages=messages,
            choices=data.get("choices") if self.callback_type == AUTOCOMPLETE_RESULT else None,
            modal=data if self.callback_type == MODAL else None,
            errors=list(self.errors),
            timeline=list(self.timeline),
            settled=self.settled,
        )


@dataclass(frozen=True)
class InteractionResult:
    """What the bot answered to one interaction."""

    id: int
    token: str
    type: int
    callback_type: int | None
    """4 message, 5 deferred (thinking), 6 deferred update, 7 update, 8 autocomplete, 9 modal."""
    ack_ms: float | None
    """Milliseconds from dispatch to the first accepted callback."""
    message: dict[str, Any] | None
    """The answer: the original response (after edits), else the first follow-up, else the updated message."""
    content: str
    embeds: list[dict[str, Any]]
    components: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    ephemeral: bool
    original: dict[str, Any] | None
    followups: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    choices: list[dict[str, Any]] | None
    modal: dict[str, Any] | None
    errors: list[CallError]
    """Refused calls (10062 too late, 40060 double ack, 50035 invalid body ...)."""
    timeline: list[tuple[float, str]]
    settled: bool

    @property
    def text(self) -> str:
        """Content and embed text of every message, for loose assertions."""
        parts: list[str] = []
        for message in self.messages or ([self.message] if self.message else []):
            parts.append(message.get("content") or "")
            for embed in message.get("embeds", []):
                parts += [embed.get("title") or "", embed.get("description") or ""]
                parts += [f"{f.get('name')} {f.get('value')}" for f in embed.get("fields", [])]
                parts.append((embed.get("footer") or {}).get("text") or "")
        return "\n".join(p for p in parts if p)


def command_options(
    schema: dict[str, Any],
    path: list[str],
    values: dict[str, Any],
    *,
    guild: Guild | None,
    resolve: dict[str, Any],
    focused: str | None = None,
    user_id: int | None = None,
) -> list[dict[str, Any]]:
    """Interaction ``options`` for ``values``, typed from the registered schema.

    Raises ValueError naming the problem when the bot's schema has no such
    subcommand or option, or a required option is missing: that is a bug the
    test should see.
    """
    options_schema = schema.get("options") or []
    for name in path:
        found = next((o for o in options_schema if o["name"] == name and o["type"] in (1, 2)), None)
        if found is None:
            known = [o["name"] for o in options_schema if o["type"] in (1, 2)]
            raise ValueError(f"/{schema['name']} has no subcommand {name!r} (has {known})")
        options_schema = found.get("options") or []
    if any(o["type"] in (1, 2) for o in options_schema):
        known = [o["name"] for o in options_schema]
        raise ValueError(f"/{schema['name']} {' '.join(path)} needs a subcommand, one of {known}")
    by_name = {o["name"]: o for o in options_schema}
    unknown = set(values) - set(by_name)
    if unknown:
        raise ValueError(
            f"/{schema['name']} {' '.join(path)} has no option {sorted(unknown)} (has {sorted(by_name)})"
        )
    missing = [o["name"] for o in options_schema if o.get("required") and o["name"] not in values]
    if missing and focused is None:
        raise ValueError(f"/{schema['name']} {' '.join(path)} needs option(s) {missing}")
    leaf = [
        _option(by_name[name], value, guild, resolve, focused == name, user_id)
        for name, value in values.items()
    ]
    for name in reversed(path):
        kind = OPTION_SUB_COMMAND if name == path[-1] else OPTION_GROUP
        leaf = [{"name": name, "type": kind, "options": leaf}]
    return leaf


def _option(
    schema: dict[str, Any],
    value: Any,
    guild: Guild | None,
    resolve: dict[str, Any],
    focused: bool,
    user_id: int | None,
) -> dict[str, Any]:
    kind = schema["type"]
    option: dict[str, Any] = {"name": schema["name"], "type": kind}
    if focused:
        option["focused"] = True
        option["value"] = str(value)
        return option
    if kind in (OPTION_USER, OPTION_MENTIONABLE) and isinstance(value, Member):
        resolve.setdefault("users", {})[str(value.user.id)] = value.user.to_payload()
        member = value.to_payload()
        member.pop("user")
        resolve.setdefault("members", {})[str(value.user.id)] = member
        option["value"] = str(value.user.id)
    elif kind == OPTION_CHANNEL and isinstance(value, Channel):
        payload = value.to_payload()
        # Resolved channels carry the invoking member's permissions in them.
        member_id = user_id if guild and user_id in guild.members else None
        payload["permissions"] = str(guild.permissions_in(value, member_id)) if guild and member_id else "0"
        resolve.setdefault("channels", {})[str(value.id)] = payload
        option["value"] = str(value.id)
    elif (
        kind in (OPTION_ROLE, OPTION_MENTIONABLE) and hasattr(value, "permissions") and hasattr(value, "name")
    ):
        resolve.setdefault("roles", {})[str(value.id)] = value.to_payload()
        option["value"] = str(value.id)
    elif kind == OPTION_ATTACHMENT and isinstance(value, dict):
        resolve.setdefault("attachments", {})[value["id"]] = value
        option["value"] = value["id"]
    elif kind == OPTION_INTEGER:
        option["value"] = int(value)
    elif kind == OPTION_NUMBER:
        option["value"] = float(value)
    elif kind == OPTION_BOOLEAN:
        option["value"] = bool(value)
    else:
        option["value"] = value if isinstance(value, str) else str(value)
    return option


def channel_summary(channel: Channel, permissions: int) -> dict[str, Any]:
    payload = channel.to_payload()
    payload["permissions"] = str(permissions)
    return payload
