"""REST: interaction callbacks, follow-ups and webhook messages.

The rules that catch real bugs live here: the first response is due within the
deadline (3 s) of dispatch, else 10062; a second acknowledgement is 40060; a
follow-up before any acknowledgement is 10015.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.emulator import errors as e
from tests.emulator import interactions as i
from tests.emulator.httputil import json_response, no_content, read_body
from tests.emulator.messages import EPHEMERAL, LOADING, plain_message
from tests.emulator.rest_channels import check_message_payload
from tests.emulator.rest_threads import (
    FORUM_TAG_LIMIT,
    TAG_REQUIRED,
    check_postable,
    check_thread_name,
    form_error,
)
from tests.emulator.world import FORUM, Channel

if TYPE_CHECKING:
    from tests.emulator.server import Emulator


def check_webhook_username(name: Any) -> None:
    """Discord's rule for a webhook post's username: 1-80 characters, no "clyde" or "discord"."""
    if name is None:
        return
    if not isinstance(name, str) or not 1 <= len(name) <= 80 or re.search("clyde|discord", name, re.I):
        raise e.invalid_form_body(
            {"username": {"_errors": [{"code": "USERNAME_INVALID", "message": "Username is invalid"}]}}
        )


class InteractionRoutes:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def add_to(self, router: web.UrlDispatcher, prefix: str) -> None:
        r = router
        r.add_post(prefix + "/interactions/{interaction_id}/{token}/callback", self.callback)
        r.add_get(prefix + "/webhooks/{webhook_id}", self.get_webhook)
        r.add_delete(prefix + "/webhooks/{webhook_id}", self.delete_webhook)
        r.add_get(prefix + "/webhooks/{webhook_id}/{token}", self.get_webhook)
        r.add_delete(prefix + "/webhooks/{webhook_id}/{token}", self.delete_webhook)
        r.add_post(prefix + "/webhooks/{webhook_id}/{token}", self.execute)
        for method, handler in (
            ("GET", self.get_webhook_message),
            ("PATCH", self.edit_webhook_message),
            ("DELETE", self.delete_webhook_message),
        ):
            r.add_route(method, prefix + "/webhooks/{webhook_id}/{token}/messages/{message_id}", handler)

    # -- interaction callbacks -----------------------------------------------------------------

    def _fail(self, rec: i.InteractionRecord | None, request: web.Request, error: e.ApiError) -> e.ApiError:
        if rec is not None:
            rec.errors.append(
                i.CallError(
                    round(rec.ms_since_dispatch(), 1),
                    request.method,
                    request.path,
                    error.status,
                    error.code,
                    error.message,
                )
            )
            rec.note(f"refused {request.method} {error.code}")
        return error

    async def callback(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        rec = self.emu.interactions.get(int(request.match_info["interaction_id"]))
        if rec is None or rec.token != request.match_info["token"]:
            raise e.unknown_interaction()
        body = await read_body(request)
        if rec.acked_at is not None:
            raise self._fail(rec, request, e.already_acknowledged())
        if now - rec.dispatched_at > self.emu.interaction_deadline_s:
            raise self._fail(rec, request, e.unknown_interaction())
        kind = body.payload.get("type")
        data = body.payload.get("data") or {}
        if kind not in i.CALLBACKS_FOR.get(rec.type, set()):
            raise self._fail(
                rec,
                request,
                e.invalid_form_body(
                    {
                        "type": {
                            "_errors": [
                                {
                                    "code": "INTERACTION_RESPONSE_TYPE_INVALID",
                                    "message": f"Callback {kind} is invalid for interaction type {rec.type}",
                                }
                            ]
                        }
                    }
                ),
            )
        # Acknowledged before the first await, so a concurrent second callback gets 40060.
        rec.acked_at, rec.callback_type, rec.callback_data = now, kind, data
        try:
            message = await self._apply_callback(rec, kind, data, body.uploads)
        except e.ApiError as error:
            rec.acked_at = rec.callback_type = rec.callback_data = None
            raise self._fail(rec, request, error) from None
        rec.note(f"callback {kind}", now)
        if request.query.get("with_response") not in ("1", "true", "True"):
            return no_content()
        flags = (message or {}).get("flags", 0)
        interaction: dict[str, Any] = {"id": str(rec.id), "type": rec.type}
        if message is not None:
            interaction.update(
                response_message_id=message["id"],
                response_message_loading=bool(flags & LOADING),
                response_message_ephemeral=bool(flags & EPHEMERAL),
            )
        answer: dict[str, Any] = {"interaction": interaction}
        if message is not None:
            answer["resource"] = {"type": kind, "message": message}
        return json_response(answer)

    async def _apply_callback(
        self, rec: i.InteractionRecord, kind: int, data: dict[str, Any], uploads: list[Any]
    ) -> dict[str, Any] | None:
        if kind == i.MESSAGE:
            check_message_payload(data, attachments=len(uploads), prefix="data")
            rec.original = await self._interaction_message(rec, data, uploads)
            return rec.original
        if kind == i.DEFERRED_MESSAGE:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            rec.original = await self._interaction_message(rec, {}, [], flags=flags)
            return rec.original
        if kind == i.UPDATE:
            if rec.source_message is None:
                raise e.ApiError(400, 50035, "Invalid Form Body")
            check_message_payload(data, attachments=len(uploads), prefix="data", require_body=False)
            await self._edit(rec, rec.source_message, data, uploads)
            return rec.source_message
        if kind == i.AUTOCOMPLETE_RESULT and len(data.get("choices") or []) > 25:
            raise e.invalid_form_body(
                {
                    "data": {
                        "choices": {
                            "_errors": [
                                {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 25 or fewer in length."}
                            ]
                        }
                    }
                }
            )
        if kind == i.MODAL and not (data.get("custom_id") and data.get("title") and data.get("components")):
            raise e.invalid_form_body(
                {
                    "data": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_REQUIRED",
                                "message": "A modal needs custom_id, title and components",
                            }
                        ]
                    }
                }
            )
        return None

    async def _interaction_message(
        self, rec: i.InteractionRecord, data: dict[str, Any], uploads: list[Any], *, flags: int = 0
    ) -> dict[str, Any]:
        ephemeral = bool((int(data.get("flags") or 0) | flags) & EPHEMERAL)
        attachments = self.emu.messages.attachments_for(rec.channel_id, data, uploads, ephemeral=ephemeral)
        user = rec.payload.get("member", {}).get("user") or rec.payload.get("user")
        message = self.emu.messages.build(
            channel_id=rec.channel_id,
            author=self.emu.bot_user,
            payload=data,
            attachments=attachments,
            flags=flags,
            webhook_id=self.emu.application_id,
            application_id=self.emu.application_id,
            interaction_metadata={
                "id": str(rec.id),
                "type": rec.type,
                "user": user,
                "authorizing_integration_owners": {"0": str(rec.guild_id or 0)},
            },
            message_type=20 if rec.type == i.APPLICATION_COMMAND else 0,
        )
        await self.emu.publish_message(message)
        return message

    async def _edit(
        self,
        rec: i.InteractionRecord | None,
        message: dict[str, Any],
        data: dict[str, Any],
        uploads: list[Any],
    ) -> None:
        attachments = None
        if "attachments" in data or uploads:
            attachments = self.emu.messages.attachments_for(
                int(message["channel_id"]),
                data,
                uploads,
                message["attachments"],
                ephemeral=bool(message["flags"] & EPHEMERAL),
            )
        self.emu.messages.edit(message, data, attachments)
        await self.emu.publish_edit(message)

    # -- webhooks: interaction follow-ups and channel webhooks ---------------------------------

    def _interaction_for_token(self, request: web.Request) -> i.InteractionRecord | None:
        if int(request.match_info["webhook_id"]) != self.emu.application_id:
            return None
        rec = self.emu.interactions_by_token.get(request.match_info["token"])
        if rec is None:
            raise e.not_found("Webhook", e.UNKNOWN_WEBHOOK)
        if time.monotonic() - rec.dispatched_at > self.emu.interaction_token_lifetime_s:
            raise self._fail(rec, request, e.ApiError(401, 50027, "Invalid Webhook Token"))
        if rec.acked_at is None:
            raise self._fail(rec, request, e.not_found("Webhook", e.UNKNOWN_WEBHOOK))
        return rec

    def _channel_webhook(self, request: web.Request) -> dict[str, Any]:
        webhook = self.emu.webhooks.get(int(request.match_info["webhook_id"]))
        token = request.match_info.get("token")
        if webhook is None:
            raise e.not_found("Webhook", e.UNKNOWN_WEBHOOK)
        if token is not None and token != webhook["token"]:
            raise e.ApiError(401, 50027, "Invalid Webhook Token")
        return webhook

    async def get_webhook(self, request: web.Request) -> web.Response:
        webhook = dict(self._channel_webhook(request))
        if "token" in request.match_info:
            webhook.pop("user", None)
        return json_response(webhook)

    async def delete_webhook(self, request: web.Request) -> web.Response:
        self._channel_webhook(request)
        self.emu.webhooks.pop(int(request.match_info["webhook_id"]), None)
        return no_content()

    async def execute(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        rec = self._interaction_for_token(request)
        try:
            check_message_payload(body.payload, attachments=len(body.uploads))
        except e.ApiError as error:
            raise self._fail(rec, request, error) from None
        if rec is not None:
            return json_response(await self._followup(rec, body.payload, body.uploads))
        webhook = self._channel_webhook(request)
        check_webhook_username(body.payload.get("username"))
        message_id = self.emu.new_id()
        channel_id, opened = await self._execute_target(webhook, request, body.payload, message_id)
        attachments = self.emu.messages.attachments_for(channel_id, body.payload, body.uploads)
        avatar_url = body.payload.get("avatar_url")
        author = {
            "id": webhook["id"],
            "username": body.payload.get("username") or webhook["name"],
            "discriminator": "0000",
            # Discord stores the image at avatar_url and gives its hash: a stand-in hash here.
            "avatar": hashlib.md5(avatar_url.encode()).hexdigest() if avatar_url else None,
            "bot": True,
            "global_name": None,
        }
        message = self.emu.messages.build(
            channel_id=channel_id,
            author=author,
            payload=plain_message(body.payload),
            attachments=attachments,
            webhook_id=int(webhook["id"]),
            message_id=message_id,
        )
        if opened is not None:
            await self.emu.publish_thread(opened)
        await self.emu.publish_message(message)
        if self.emu.unanswered_creates > 0:  # the post exists; its sender never hears so
            self.emu.unanswered_creates -= 1
            await self.emu.release_unanswered.wait()
        if request.query.get("wait") in ("true", "1", "True"):
            return json_response(message)
        return no_content()

    async def _execute_target(
        self, webhook: dict[str, Any], request: web.Request, payload: dict[str, Any], message_id: int
    ) -> tuple[int, Channel | None]:
        """Where an execute posts: the webhook's channel, one of its threads (``?thread_id=``), or a
        new forum post (``thread_name``, a forum channel; its id is the message's); and the thread
        it opened, if any.
        """
        found = self.emu.world.find_channel(int(webhook["channel_id"]))
        if found is None:
            raise e.not_found("Channel", e.UNKNOWN_CHANNEL)
        guild, channel = found
        thread_id = request.query.get("thread_id")
        if thread_id:
            thread = guild.channels.get(int(thread_id)) if thread_id.isdigit() else None
            if thread is None or not thread.is_thread or thread.parent_id != channel.id:
                raise e.not_found("Channel", e.UNKNOWN_CHANNEL)
            await check_postable(self.emu, guild, thread)
            return thread.id, None
        name = payload.get("thread_name")
        if channel.type != FORUM:
            if name:
                raise e.ApiError(400, 220003, "Webhooks can only create threads in forum channels")
            return channel.id, None
        if not name:
            raise e.ApiError(
                400, 220001, "Webhooks posted to forum channels must have a thread_name or thread_id"
            )
        check_thread_name(name)
        tags = [int(t) for t in payload.get("applied_tags") or []]
        known = {int(t["id"]) for t in channel.available_tags}
        if len(tags) > FORUM_TAG_LIMIT or not set(tags) <= known:
            raise form_error("applied_tags", "BASE_TYPE_BAD_LENGTH", "Unknown tags or more than 5")
        if channel.require_tag and not tags:
            raise e.ApiError(400, TAG_REQUIRED, "A tag is required to create a forum post in this channel")
        # A forum post opened by a webhook: a thread whose id is its first message's.
        thread = guild.add_thread(channel, name, owner_id=self.emu.bot_user_id, thread_id=message_id)
        thread.applied_tags = tags
        return thread.id, thread

    async def _followup(
        self, rec: i.InteractionRecord, payload: dict[str, Any], uploads: list[Any]
    ) -> dict[str, Any]:
        original = rec.original
        if rec.callback_type == i.DEFERRED_MESSAGE and original is not None and original["flags"] & LOADING:
            # Discord: the first follow-up after a "thinking" deferral replaces the loading message,
            # and keeps the deferral's visibility whatever flags the follow-up asks for.
            await self._edit(rec, original, payload, uploads)
            rec.followups.append(original)
            rec.note("followup (filled deferral)")
            return original
        message = await self._interaction_message(rec, payload, uploads)
        rec.followups.append(message)
        rec.note("followup")
        return message

    def _webhook_message(self, request: web.Request) -> tuple[i.InteractionRecord | None, dict[str, Any]]:
        rec = self._interaction_for_token(request)
        ref = request.match_info["message_id"]
        if rec is not None:
            if ref == "@original":
                message = (
                    rec.source_message if rec.callback_type in (i.UPDATE, i.DEFERRED_UPDATE) else rec.original
                )
            else:
                candidates = [m for m in [rec.original, *rec.followups] if m is not None]
                message = next((m for m in candidates if m["id"] == ref), None)
        else:
            webhook = self._channel_webhook(request)
            channel_id = int(request.query.get("thread_id") or webhook["channel_id"])
            message = self.emu.messages.get(channel_id, int(ref)) if ref.isdigit() else None
            if message is not None and message.get("webhook_id") != webhook["id"]:
                message = None
        if message is None:
            raise self._fail(rec, request, e.not_found("Message", e.UNKNOWN_MESSAGE))
        return rec, message

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        return json_response(self._webhook_message(request)[1])

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        rec, message = self._webhook_message(request)
        try:
            check_message_payload(body.payload, attachments=len(body.uploads), require_body=False)
        except e.ApiError as error:
            raise self._fail(rec, request, error) from None
        await self._edit(rec, message, body.payload, body.uploads)
        if rec is not None:
            rec.edits.append(time.monotonic())
            rec.note(f"edit {request.match_info['message_id']}")
        return json_response(message)

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        rec, message = self._webhook_message(request)
        await self.emu.publish_delete(int(message["channel_id"]), int(message["id"]))
        if rec is not None:
            rec.note(f"delete {request.match_info['message_id']}")
            if rec.original is not None and int(rec.original["id"]) == int(message["id"]):
                # Once the original response is gone, follow-ups are new messages with their own flags.
                rec.original = None
        return no_content()
