"""Turning aiohttp's exceptions into newsdesk errors with messages a user can act on."""

from __future__ import annotations

import asyncio
import re
from http import HTTPStatus

import aiohttp

from bot.errors import (
    BlockedAddressError,
    ConnectError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    InvalidURLError,
)
from bot.fetch.resolver import BLOCKED_MESSAGE, BlockedConnectionError

#: A reason phrase shown as the server wrote it: words, no Markdown, link or mention.
_PLAIN_REASON = re.compile(r"[A-Za-z0-9 '.-]{1,60}")


def status_error(
    status: int, reason: str | None, url: str, *, retry_after: str | None = None
) -> HTTPStatusError:
    """``The site answered 404 Not Found.``"""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        # The server's own words (an unregistered status): kept only when plain words, since the
        # message is shown in replies as Markdown ("520 [Claim](https://evil.example)" was a link).
        phrase = (reason or "").strip()
        if not _PLAIN_REASON.fullmatch(phrase):
            phrase = ""
    text = f"{status} {phrase}".strip()
    return HTTPStatusError(f"The site answered {text}.", url=url, status=status, retry_after=retry_after)


def _is_blocked(error: BaseException) -> bool:
    # The socket factory's refusal arrives wrapped, as os_error or as a cause.
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, BlockedConnectionError):
            return True
        if isinstance(getattr(seen, "os_error", None), BlockedConnectionError):
            return True
        seen = seen.__cause__
    return False


def client_error(error: BaseException, url: str, host: str) -> FetchError:
    """The newsdesk error for an aiohttp (or asyncio) failure while fetching ``url``."""
    if _is_blocked(error):
        return BlockedAddressError(BLOCKED_MESSAGE, url=url)
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return FetchTimeoutError("The site took too long to accept the connection.", url=url)
    if isinstance(error, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return FetchTimeoutError("The site took too long to answer.", url=url)
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return ConnectError(f"The site {host} could not be found.", url=url)
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return ConnectError(f"The security certificate of {host} is not valid.", url=url)
    if isinstance(error, aiohttp.ClientSSLError):
        return ConnectError(f"A secure connection to {host} could not be made.", url=url)
    if isinstance(error, aiohttp.ClientConnectorError):
        return ConnectError(f"Could not connect to {host}.", url=url)
    if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return ConnectError(f"{host} closed the connection unexpectedly.", url=url)
    if isinstance(error, aiohttp.ClientPayloadError):
        return FetchError("The site sent a broken response.", url=url)
    if isinstance(error, aiohttp.InvalidURL):
        return InvalidURLError("That is not a valid link.", url=url)
    if isinstance(error, aiohttp.ClientResponseError):
        return FetchError("The site sent an invalid response.", url=url)
    return FetchError("The page could not be fetched.", url=url)


def size_text(size: int) -> str:
    """``5000000`` -> ``5 MB``."""
    for unit, scale in (("MB", 1_000_000), ("kB", 1_000)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"
