"""REST: users, gateway discovery, guilds, the application and its commands."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.emulator import errors as e
from tests.emulator.httputil import int_param, json_response, no_content, query_int, read_body
from tests.emulator.world import DM, Guild

if TYPE_CHECKING:
    from tests.emulator.server import Emulator

COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


def _bad(path: str, message: str) -> dict[str, Any]:
    """An ``errors`` tree with one leaf at the dotted ``path``."""
    tree: dict[str, Any] = {"_errors": [{"code": "BASE_TYPE_BAD_VALUE", "message": message}]}
    for part in reversed(path.split(".")):
        tree = {part: tree}
    return tree


def validate_command(command: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The first problem Discord would report for an application command, if any."""
    name = command.get("name") or ""
    kind = command.get("type", 1)
    if kind == 1:
        if not COMMAND_NAME.match(name) or name != name.lower():
            return _bad(f"{path}.name", f"Command name {name!r} is invalid")
        if not 1 <= len(command.get("description") or "") <= 100:
            return _bad(f"{path}.description", "Must be between 1 and 100 in length.")
    options = command.get("options") or []
    if len(options) > 25:
        return _bad(f"{path}.options", "Must be 25 or fewer in length.")
    seen_optional = False
    for index, option in enumerate(options):
        if option.get("type") in (1, 2):
            problem = validate_command({**option, "type": 1}, f"{path}.options.{index}")
        else:
            if option.get("required") and seen_optional:
                return _bad(
                    f"{path}.options.{index}", "Required options must be placed before non-required options"
                )
            seen_optional = seen_optional or not option.get("required")
            problem = validate_command({**option, "type": 1}, f"{path}.options.{index}")
            if len(option.get("choices") or []) > 25:
                problem = problem or _bad(f"{path}.options.{index}.choices", "Must be 25 or fewer in length.")
        if problem:
            return problem
    return None


class MiscRoutes:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def add_to(self, router: web.UrlDispatcher, prefix: str) -> None:
        r = router
        r.add_get(prefix + "/gateway", self.gateway)
        r.add_get(prefix + "/gateway/bot", self.gateway_bot)
        r.add_get(prefix + "/users/@me", self.me)
        r.add_get(prefix + "/users/{user_id}", self.user)
        r.add_post(prefix + "/users/@me/channels", self.open_dm)
        r.add_get(prefix + "/oauth2/applications/@me", self.application)
        r.add_get(prefix + "/applications/@me", self.application)
        r.add_get(prefix + "/guilds/{guild_id}", self.guild)
        r.add_get(prefix + "/guilds/{guild_id}/channels", self.guild_channels)
        r.add_get(prefix + "/guilds/{guild_id}/roles", self.guild_roles)
        r.add_get(prefix + "/guilds/{guild_id}/members", self.guild_members)
        r.add_get(prefix + "/guilds/{guild_id}/members/{user_id}", self.guild_member)
        r.add_get(prefix + "/guilds/{guild_id}/webhooks", self.guild_webhooks)
        for base in ("/applications/{application_id}", "/applications/{application_id}/guilds/{guild_id}"):
            r.add_get(prefix + base + "/commands", self.list_commands)
            r.add_put(prefix + base + "/commands", self.overwrite_commands)
            r.add_post(prefix + base + "/commands", self.create_command)
            r.add_get(prefix + base + "/commands/{command_id}", self.get_command)
            r.add_patch(prefix + base + "/commands/{command_id}", self.edit_command)
            r.add_delete(prefix + base + "/commands/{command_id}", self.delete_command)
        r.add_get(
            prefix + "/applications/{application_id}/guilds/{guild_id}/commands/permissions",
            self.command_permissions,
        )

    # -- discovery, users, application ---------------------------------------------------------

    async def gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.emu.gateway_url})

    async def gateway_bot(self, request: web.Request) -> web.Response:
        gateway = self.emu.gateway
        return json_response(
            {
                "url": self.emu.gateway_url,
                "shards": gateway.recommended_shards,
                "session_start_limit": gateway.session_start_limit.to_payload(),
            }
        )

    async def me(self, request: web.Request) -> web.Response:
        user = self.emu.bot_user.to_payload()
        user.update(verified=True, mfa_enabled=False, email=None, locale="en-US")
        return json_response(user)

    async def user(self, request: web.Request) -> web.Response:
        user = self.emu.world.users.get(int_param(request, "user_id"))
        if user is None:
            raise e.not_found("User", e.UNKNOWN_USER)
        return json_response(user.to_payload())

    async def open_dm(self, request: web.Request) -> web.Response:
        recipient = int((await read_body(request)).payload.get("recipient_id") or 0)
        user = self.emu.world.users.get(recipient)
        if user is None:
            raise e.not_found("User", e.UNKNOWN_USER)
        for channel in self.emu.dm_channels.values():
            if channel["recipients"][0]["id"] == str(recipient):
                return json_response(channel)
        channel_id = self.emu.new_id()
        channel = {
            "id": str(channel_id),
            "type": DM,
            "last_message_id": None,
            "recipients": [user.to_payload()],
        }
        self.emu.dm_channels[channel_id] = channel
        return json_response(channel)

    async def application(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "id": str(self.emu.application_id),
                "name": self.emu.bot_user.username,
                "icon": None,
                "description": "",
                "summary": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": 0,
                "owner": self.emu.world.users[self.emu.default.owner.id].to_payload(),
                "team": None,
                "bot": self.emu.bot_user.to_payload(),
                "rpc_origins": [],
            }
        )

    # -- guilds --------------------------------------------------------------------------------

    def _guild(self, request: web.Request) -> Guild:
        guild = self.emu.world.guilds.get(int_param(request, "guild_id"))
        if guild is None:
            raise e.not_found("Guild", e.UNKNOWN_GUILD)
        return guild

    async def guild(self, request: web.Request) -> web.Response:
        payload = self._guild(request).to_payload(include_members=False)
        for key in ("channels", "threads", "members", "voice_states", "presences"):
            payload.pop(key, None)
        return json_response(payload)

    async def guild_channels(self, request: web.Request) -> web.Response:
        return json_response(
            [c.to_payload() for c in self._guild(request).channels.values() if not c.is_thread]
        )

    async def guild_roles(self, request: web.Request) -> web.Response:
        return json_response([r.to_payload() for r in self._guild(request).roles.values()])

    async def guild_members(self, request: web.Request) -> web.Response:
        limit = query_int(request, "limit", 1) or 1
        after = query_int(request, "after", 0) or 0
        members = sorted(self._guild(request).members.values(), key=lambda m: m.user.id)
        return json_response([m.to_payload() for m in members if m.user.id > after][:limit])

    async def guild_member(self, request: web.Request) -> web.Response:
        member = self._guild(request).members.get(int_param(request, "user_id"))
        if member is None:
            raise e.ApiError(404, 10007, "Unknown Member")
        return json_response(member.to_payload())

    async def guild_webhooks(self, request: web.Request) -> web.Response:
        guild_id = str(self._guild(request).id)
        return json_response([w for w in self.emu.webhooks.values() if w["guild_id"] == guild_id])

    # -- application commands ------------------------------------------------------------------

    def _scope(self, request: web.Request) -> dict[int, dict[str, Any]]:
        if int_param(request, "application_id") != self.emu.application_id:
            raise e.missing_access()
        guild_id = request.match_info.get("guild_id")
        if guild_id is not None:
            if int(guild_id) not in self.emu.world.guilds:
                raise e.missing_access()
            return self.emu.guild_commands.setdefault(int(guild_id), {})
        return self.emu.global_commands

    def _stored(
        self, command: dict[str, Any], request: web.Request, command_id: int | None = None
    ) -> dict[str, Any]:
        stored = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            **command,
            "id": str(command_id or self.emu.new_id()),
            "application_id": str(self.emu.application_id),
            "version": str(self.emu.new_id()),
        }
        if "guild_id" in request.match_info:
            stored["guild_id"] = request.match_info["guild_id"]
        return stored

    async def list_commands(self, request: web.Request) -> web.Response:
        return json_response(list(self._scope(request).values()))

    async def overwrite_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        commands = (await read_body(request)).payload.get("_")
        if not isinstance(commands, list):
            raise e.invalid_form_body(_bad("_", "Expected an array"))
        if len(commands) > 100:
            raise e.invalid_form_body(_bad("_", "Must be 100 or fewer in length."))
        for index, command in enumerate(commands):
            if problem := validate_command(command, str(index)):
                raise e.invalid_form_body(problem)
        by_name = {(c["name"], c.get("type", 1)): int(c["id"]) for c in scope.values()}
        scope.clear()
        for command in commands:
            stored = self._stored(command, request, by_name.get((command["name"], command.get("type", 1))))
            scope[int(stored["id"])] = stored
        self.emu.command_syncs += 1
        return json_response(list(scope.values()))

    async def create_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        command = (await read_body(request)).payload
        if problem := validate_command(command, "0"):
            raise e.invalid_form_body(problem)
        for existing in list(scope.values()):
            if existing["name"] == command["name"] and existing.get("type", 1) == command.get("type", 1):
                del scope[int(existing["id"])]
        stored = self._stored(command, request)
        scope[int(stored["id"])] = stored
        return json_response(stored, status=201)

    def _command(self, request: web.Request) -> dict[str, Any]:
        command = self._scope(request).get(int_param(request, "command_id"))
        if command is None:
            raise e.not_found("application command", e.UNKNOWN_COMMAND)
        return command

    async def get_command(self, request: web.Request) -> web.Response:
        return json_response(self._command(request))

    async def edit_command(self, request: web.Request) -> web.Response:
        command = self._command(request)
        command.update((await read_body(request)).payload)
        return json_response(command)

    async def delete_command(self, request: web.Request) -> web.Response:
        command = self._command(request)
        del self._scope(request)[int(command["id"])]
        return no_content()

    async def command_permissions(self, request: web.Request) -> web.Response:
        self._scope(request)
        return json_response([])
