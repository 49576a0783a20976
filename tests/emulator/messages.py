"""Messages and uploaded files: create, edit, delete, list, nonce deduplication."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.emulator.ids import iso_timestamp, snowflake
from tests.emulator.world import User

EPHEMERAL = 1 << 6
LOADING = 1 << 7
CHANNEL_MESSAGE_FLAGS = (1 << 2) | (1 << 12) | (1 << 15)
"""What a plain (non-interaction) message may set: suppress embeds/notifications, components V2."""
NONCE_WINDOW_S = 300.0
"""How long an enforced nonce dedupes (Discord: "the past few minutes")."""


def plain_message(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with the flags a channel or webhook message cannot set (ephemeral ...) removed."""
    flags = int(payload.get("flags") or 0) & CHANNEL_MESSAGE_FLAGS
    return {**payload, "flags": flags}


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request: ``files[n]``."""

    index: int
    filename: str
    content_type: str
    data: bytes


@dataclass
class StoredFile:
    payload: dict[str, Any]
    data: bytes


@dataclass
class MessageStore:
    """Every message, visible (per channel) or ephemeral (by id only)."""

    http_base: Callable[[], str]
    channels: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    ephemeral: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[int, StoredFile] = field(default_factory=dict)
    _nonces: dict[tuple[int, int, str], tuple[float, int]] = field(default_factory=dict)

    # -- files ---------------------------------------------------------------------------------

    def store_file(
        self,
        channel_id: int,
        upload: UploadedFile,
        description: str | None = None,
        *,
        ephemeral: bool = False,
    ) -> dict[str, Any]:
        attachment_id = snowflake()
        payload: dict[str, Any] = {
            "id": str(attachment_id),
            "filename": upload.filename,
            "size": len(upload.data),
            "url": f"{self.http_base()}/attachments/{channel_id}/{attachment_id}/{upload.filename}",
            "proxy_url": f"{self.http_base()}/attachments/{channel_id}/{attachment_id}/{upload.filename}",
            "content_type": upload.content_type,
        }
        if description:
            payload["description"] = description
        if ephemeral:
            payload["ephemeral"] = True
        self.files[attachment_id] = StoredFile(payload, upload.data)
        return payload

    def attachments_for(
        self,
        channel_id: int,
        payload: dict[str, Any],
        uploads: list[UploadedFile],
        existing: list[dict[str, Any]] | None = None,
        *,
        ephemeral: bool = False,
    ) -> list[dict[str, Any]]:
        """Resolve ``payload["attachments"]`` against the uploaded parts and the kept attachments."""
        by_index = {u.index: u for u in uploads}
        existing_by_id = {a["id"]: a for a in existing or []}
        if "attachments" not in payload:
            kept = list(existing or [])
            return kept + [self.store_file(channel_id, u, ephemeral=ephemeral) for u in uploads]
        result = []
        used: set[int] = set()
        for item in payload.get("attachments") or []:
            ref = str(item.get("id"))
            if ref in existing_by_id:
                result.append(existing_by_id[ref])
            elif ref.isdigit() and int(ref) in by_index:
                used.add(int(ref))
                upload = by_index[int(ref)]
                if item.get("filename"):
                    upload = UploadedFile(upload.index, item["filename"], upload.content_type, upload.data)
                result.append(
                    self.store_file(channel_id, upload, item.get("description"), ephemeral=ephemeral)
                )
        result += [
            self.store_file(channel_id, u, ephemeral=ephemeral) for u in uploads if u.index not in used
        ]
        return result

    # -- messages ------------------------------------------------------------------------------

    def build(
        self,
        *,
        channel_id: int,
        author: User | dict[str, Any],
        payload: dict[str, Any],
        attachments: list[dict[str, Any]],
        flags: int = 0,
        webhook_id: int | None = None,
        application_id: int | None = None,
        interaction_metadata: dict[str, Any] | None = None,
        message_type: int = 0,
        message_id: int | None = None,
    ) -> dict[str, Any]:
        """A Discord message object from a create payload."""
        embeds = [{"type": "rich", **e} for e in payload.get("embeds") or []]
        message: dict[str, Any] = {
            "id": str(message_id or snowflake()),
            "channel_id": str(channel_id),
            "author": author if isinstance(author, dict) else author.to_payload(),
            "content": payload.get("content") or "",
            "timestamp": iso_timestamp(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "mention_channels": [],
            "attachments": attachments,
            "embeds": embeds,
            "reactions": [],
            "pinned": False,
            "type": message_type,
            "flags": (int(payload.get("flags") or 0) | flags) & ~LOADING | (flags & LOADING),
            "components": payload.get("components") or [],
            "sticker_items": [],
        }
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        if webhook_id is not None:
            message["webhook_id"] = str(webhook_id)
        if application_id is not None:
            message["application_id"] = str(application_id)
        if interaction_metadata is not None:
            message["interaction_metadata"] = interaction_metadata
        if payload.get("message_reference"):
            message["message_reference"] = payload["message_reference"]
            message["type"] = 19 if message_type == 0 else message_type
        return message

    def forget_nonces(self) -> None:
        """What Discord does a few minutes after a send: the nonce no longer finds the message."""
        self._nonces.clear()

    def dedupe(
        self, author_id: int, channel_id: int, payload: dict[str, Any], *, now: float
    ) -> dict[str, Any] | None:
        """The message already sent with this enforced nonce, if any."""
        nonce = payload.get("nonce")
        if nonce is None or not payload.get("enforce_nonce"):
            return None
        seen = self._nonces.get((author_id, channel_id, str(nonce)))
        if seen is None or now - seen[0] > NONCE_WINDOW_S:
            return None
        return self.get(channel_id, seen[1])

    def add(
        self, message: dict[str, Any], *, nonce_author: int | None = None, now: float | None = None
    ) -> None:
        channel_id, message_id = int(message["channel_id"]), int(message["id"])
        if message["flags"] & EPHEMERAL:
            self.ephemeral[message_id] = message
        else:
            self.channels.setdefault(channel_id, {})[message_id] = message
        if nonce_author is not None and message.get("nonce") is not None:
            moment = time.monotonic() if now is None else now
            self._nonces[(nonce_author, channel_id, str(message["nonce"]))] = (moment, message_id)

    def get(self, channel_id: int, message_id: int) -> dict[str, Any] | None:
        message = self.channels.get(channel_id, {}).get(message_id)
        if message is None:
            message = self.ephemeral.get(message_id)
        return message

    def edit(
        self, message: dict[str, Any], payload: dict[str, Any], attachments: list[dict[str, Any]] | None
    ) -> None:
        """Apply a PATCH: only the keys present change."""
        if "content" in payload:
            message["content"] = payload["content"] or ""
        if "embeds" in payload:
            message["embeds"] = [{"type": "rich", **e} for e in payload["embeds"] or []]
        if "components" in payload:
            message["components"] = payload["components"] or []
        if "flags" in payload and payload["flags"] is not None:
            # Only SUPPRESS_EMBEDS (4) and IS_COMPONENTS_V2 may change; ephemeral stays as it was.
            keep = message["flags"] & EPHEMERAL
            message["flags"] = (int(payload["flags"]) & ((1 << 2) | (1 << 15))) | keep
        if attachments is not None:
            message["attachments"] = attachments
        message["flags"] &= ~LOADING
        message["edited_timestamp"] = iso_timestamp()

    def delete(self, channel_id: int, message_id: int) -> dict[str, Any] | None:
        message = self.channels.get(channel_id, {}).pop(message_id, None)
        return message or self.ephemeral.pop(message_id, None)

    def history(
        self,
        channel_id: int,
        *,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first, as Discord returns them (``after`` alone: the oldest ones after it)."""
        ids = sorted(self.channels.get(channel_id, {}))
        stored = self.channels.get(channel_id, {})
        if around is not None:
            older = [i for i in ids if i <= around][-((limit + 1) // 2) :]
            newer = [i for i in ids if i > around][: limit // 2]
            chosen = older + newer
        elif after is not None:
            chosen = [i for i in ids if i > after and (before is None or i < before)][:limit]
        else:
            chosen = [i for i in ids if before is None or i < before][-limit:]
        return [stored[i] for i in sorted(chosen, reverse=True)]
