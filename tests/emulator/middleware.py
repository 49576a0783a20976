"""What every REST request goes through: recording, injected faults, rate limits, auth, errors.

Order matters and follows Discord: a request is counted against its bucket (and
gets the X-RateLimit-* headers) before the token is checked; an injected fault
answers before anything else looks at the request.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.emulator import errors as e
from tests.emulator.httputil import API_PREFIX, json_response, read_body
from tests.emulator.ratelimit import ratelimit_headers, too_many_requests
from tests.emulator.recorder import RequestRecord

if TYPE_CHECKING:
    from tests.emulator.server import Emulator

# Routes authorised by the interaction or webhook token in the path, not the bot token;
# Discord also keeps them out of the global limit.
_TOKEN_ROUTES = ("/interactions/", "/webhooks/")
_MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "token")
UNKNOWN_ROUTE = "(unknown)"


async def unknown_endpoint(request: web.Request) -> web.Response:
    return json_response({"code": 0, "message": "404: Not Found"}, status=404)


def api_middleware(emu: Emulator) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        started = time.monotonic()
        path = request.path[len(API_PREFIX) :]
        resource = request.match_info.route.resource
        known = resource is not None and handler is not unknown_endpoint
        template = resource.canonical[len(API_PREFIX) :] if known and resource is not None else None
        body: Any = None
        headers: dict[str, str] = {}
        try:
            body = (await read_body(request)).summary() if request.can_read_body else None
            token_route = path.startswith(_TOKEN_ROUTES) and path.count("/") >= 3
            response = injected(emu, request.method, path)
            if response is None:
                response, headers = rate_limit(
                    emu, request, template or UNKNOWN_ROUTE, exempt_global=token_route
                )
            authorised = token_route or request.headers.get("Authorization") == f"Bot {emu.token}"
            if response is None and not authorised:
                raise e.ApiError(401, 0, "401: Unauthorized")
            if response is None:
                response = await handler(request)
        except e.ApiError as error:
            response = json_response(error.body(), status=error.status)
        for key, value in headers.items():
            response.headers.setdefault(key, value)
        emu.recorder.requests.append(
            RequestRecord(
                at=started,
                method=request.method,
                path=path,
                query=dict(request.query),
                body=body,
                status=response.status,
                response=_json_body(response),
                route=template,
                duration_ms=(time.monotonic() - started) * 1000,
            )
        )
        return response

    return middleware


def injected(emu: Emulator, method: str, path: str) -> web.Response | None:
    """The fault a test injected for this request, if one is pending."""
    for injection in emu.injections:
        if injection.exhausted or not injection.matches(method, path):
            continue
        injection.hits += 1
        if injection.status == 429:
            body, headers = too_many_requests(
                injection.retry_after,
                scope="global" if injection.is_global else "shared",
                is_global=injection.is_global,
            )
            return json_response(body, 429, headers)
        message = f"{injection.status}: injected by the test"
        return json_response({"code": 0, "message": message}, injection.status)
    return None


def rate_limit(
    emu: Emulator, request: web.Request, template: str, *, exempt_global: bool
) -> tuple[web.Response | None, dict[str, str]]:
    """Count the request; a 429 when its bucket (or the global limit) is spent, and the headers."""
    major = ":".join(request.match_info.get(k, "") for k in _MAJOR_PARAMETERS)
    verdict = emu.ratelimiter.hit(
        request.method, template, major, now=time.monotonic(), wall=time.time(), exempt_global=exempt_global
    )
    headers = ratelimit_headers(verdict)
    if verdict.allowed:
        return None, headers
    body, extra = too_many_requests(verdict.reset_after, scope=verdict.scope, is_global=verdict.is_global)
    return json_response(body, 429, {**headers, **extra}), headers


def _json_body(response: web.StreamResponse) -> Any:
    if not isinstance(response, web.Response) or response.content_type != "application/json":
        return None
    if not isinstance(response.body, bytes):
        return None
    try:
        return json.loads(response.body)
    except ValueError:
        return None
