"""Discord's rate limits for the whole bot, not each process: the global budget and 429 counts.

Discord lets a bot make 50 REST requests per second (``discord.global_rate_limit``), whatever
number of processes make them. Two ways to hold that with several processes:

- ``discord.rest_proxy = true``: ``discord.api_base`` points at a shared REST proxy (nirn-proxy)
  that queues every process's requests within Discord's global and per-route limits; no
  process limits itself.
- without one, each process keeps to its share, ``global_rate_limit / N`` requests per second
  (:class:`bot.ratelimit.RequestBudget`), N being the live processes (a cheap callable; see
  :class:`bot.ratelimit.ProcessCount`).

The hook is one aiohttp ``TraceConfig`` on discord.py's HTTP session
(``discord.Client(http_trace=limits.trace_config())``): every request the process sends to the
API passes ``on_request_start`` before it leaves — discord.py's ``HTTPClient.request`` (posts,
edits, history lookups), each of its retries (Discord counts them too), and the interaction
responses its webhook adapter sends on the same session. Interaction endpoints
(``/interactions/{id}/{token}/callback`` and the ``/webhooks/{application_id}/{token}`` routes
of follow-ups) are not bound to the global limit (Discord's docs, "Rate Limits": "Interaction
endpoints are not bound to the bot's Global Rate Limit") and never wait here: a command must be
acknowledged within 3 s, however busy delivery is. The gateway websocket and the CDN are not
the API and pass untouched.

``on_request_end`` counts every 429 by route and scope (:class:`RateLimitStats`), with or
without a proxy, before discord.py retries it: ``POST /channels/{channel_id}/messages`` with the
scope Discord gives in ``X-RateLimit-Scope`` (``user``: a route's bucket; ``global``; ``shared``:
a resource's own limit, which Discord does not hold against the bot). Discord bans an IP for a
while after 10,000 401/403/429 answers in 10 minutes (shared 429s excepted), so these counts
are worth watching.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from types import SimpleNamespace

import aiohttp
import discord
import yarl

from bot.config import DiscordSettings
from bot.ops import metrics
from bot.ratelimit import RequestBudget, Share, alone

__all__ = ["DiscordRateLimits", "RateLimitStats", "is_interaction_route", "route_template", "scope_of"]

#: X-RateLimit-Scope values Discord sends with a 429.
SCOPES = frozenset({"user", "global", "shared"})

# The name of an id after each resource, as in Discord's docs and discord.py's Route templates.
_ID_NAMES = {
    "applications": "application_id",
    "bans": "user_id",
    "channels": "channel_id",
    "commands": "command_id",
    "emojis": "emoji_id",
    "guilds": "guild_id",
    "integrations": "integration_id",
    "interactions": "interaction_id",
    "members": "user_id",
    "messages": "message_id",
    "permissions": "overwrite_id",
    "recipients": "user_id",
    "roles": "role_id",
    "stickers": "sticker_id",
    "thread-members": "user_id",
    "threads": "thread_id",
    "users": "user_id",
    "webhooks": "webhook_id",
}
# Free-text segments named by the resource before them.
_NAMED_AFTER = {"reactions": "{emoji}", "invites": "{invite_code}", "templates": "{template_code}"}
# A path word Discord spells out (messages, bulk-delete, @me, @original); anything else is data.
_LITERAL = re.compile(r"[a-z@][a-z0-9@._-]{0,31}")


def route_template(method: str, path: str) -> str:
    """``"POST /channels/{channel_id}/messages"`` for ``POST /channels/1234/messages``.

    ``path`` is relative to the API base (``/api/v10``). Ids, tokens, emoji and codes become
    placeholders named as in Discord's docs, so the routes a bot uses make a small, fixed set
    of keys (a metric label). A segment that is neither a known word nor a known parameter is
    ``{param}``.
    """
    parts = path.strip("/").split("/")
    out: list[str] = []
    for index, part in enumerate(parts):
        before = parts[index - 1] if index else ""
        two_before = parts[index - 2] if index > 1 else ""
        if part.isdigit():
            out.append("{" + _ID_NAMES.get(before, "id") + "}")
        elif two_before == "webhooks" and before.isdigit():
            out.append("{webhook_token}")
        elif two_before == "interactions" and before.isdigit():
            out.append("{interaction_token}")
        elif before in _NAMED_AFTER:
            out.append(_NAMED_AFTER[before])
        elif _LITERAL.fullmatch(part):
            out.append(part)
        else:
            out.append("{param}")
    return f"{method.upper()} /" + "/".join(out)


def is_interaction_route(path: str) -> bool:
    """Whether ``path`` (relative to the API base) is an interaction endpoint.

    The initial response (``/interactions/{id}/{token}/callback``) and the routes an
    interaction token opens (``/webhooks/{application_id}/{token}...``: the original response,
    follow-ups): authorised by the token in the path, and not bound to the global limit.
    """
    parts = path.strip("/").split("/", 3)
    return len(parts) >= 3 and parts[0] in ("interactions", "webhooks")


def scope_of(headers: Mapping[str, str]) -> str:
    """A 429's scope: Discord's ``user``, ``global`` or ``shared``; ``proxy`` for one nirn-proxy
    made up (a cluster member it could not reach); ``unknown`` without Discord's headers (a
    Cloudflare ban). ``headers`` must match names case-insensitively."""
    scope = headers.get("X-RateLimit-Scope", "").lower()
    if scope in SCOPES:
        return scope
    if headers.get("X-RateLimit-Global", "").lower() == "true":
        return "global"
    if "generated-by-proxy" in headers:
        return "proxy"
    return "unknown"


class RateLimitStats:
    """429 answers counted by (route template, scope), since the process started."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()

    def record(self, route: str, scope: str) -> None:
        self._counts[(route, scope)] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        """``{("POST /channels/{channel_id}/messages", "user"): 3, ...}``: a copy."""
        return dict(self._counts)

    def total(self, scope: str | None = None) -> int:
        return sum(n for (_, s), n in self._counts.items() if scope is None or s == scope)


class DiscordRateLimits:
    """One per process: its share of the global limit (unless a REST proxy holds it) and the
    429 counts. Pass :meth:`trace_config` to ``discord.Client(http_trace=...)``.

    ``share`` is the number of live processes that send, read at every request (cheap: a
    cached count, see :class:`bot.ratelimit.ProcessCount`).
    """

    def __init__(self, settings: DiscordSettings, share: Share = alone) -> None:
        self.stats = RateLimitStats()
        self.budget: RequestBudget | None = (
            None if settings.rest_proxy else RequestBudget(settings.global_rate_limit, share)
        )
        self._trace: aiohttp.TraceConfig | None = None
        self._base = ("", "")  # (Route.BASE, as aiohttp spells it)

    def share_with(self, share: Share) -> None:
        """From now on, keep to a share of the global limit among ``share()`` processes."""
        if self.budget is not None:
            self.budget.share_with(share)

    def trace_config(self) -> aiohttp.TraceConfig:
        """The hook for discord.py's session (the same one each call)."""
        if self._trace is None:
            trace = aiohttp.TraceConfig()
            trace.on_request_start.append(self._on_request_start)
            trace.on_request_end.append(self._on_request_end)
            self._trace = trace
        return self._trace

    def api_path(self, url: object) -> str | None:
        """The path of ``url`` below the REST API base, or None when it is not an API URL."""
        # Read at each request: cogs.client.point_at sets it from discord.api_base at start.
        route_base = discord.http.Route.BASE
        if route_base != self._base[0]:
            # Spelt as aiohttp spells the URLs it requests (lower-case host, no default port).
            self._base = (route_base, str(yarl.URL(route_base)).rstrip("/"))
        base = self._base[1]
        text = str(url)
        if not text.startswith(base):
            return None
        path = text[len(base) :].partition("?")[0]
        return path if path.startswith("/") else None

    async def _on_request_start(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        if self.budget is None:
            return
        path = self.api_path(params.url)
        if path is None or is_interaction_route(path):
            return
        await self.budget.take()

    async def _on_request_end(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        status = params.response.status
        if status != 429:
            if status < 300 and params.url.path.endswith("/callback"):
                self._acknowledged(params.url)
            return
        path = self.api_path(params.url)
        if path is not None:
            route, scope = route_template(params.method, path), scope_of(params.response.headers)
            self.stats.record(route, scope)
            metrics.discord_429(route, scope)

    def _acknowledged(self, url: yarl.URL) -> None:
        # The initial response to an interaction reached Discord: its latency from the
        # interaction's creation, which Discord limits to 3 s.
        path = self.api_path(url)
        parts = path.strip("/").split("/") if path is not None else []
        if len(parts) == 4 and parts[0] == "interactions" and parts[1].isdigit():
            metrics.interaction_acknowledged(int(parts[1]))
