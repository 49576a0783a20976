"""The newsdesk error hierarchy.

Every error carries a message fit to show a user (``str(error)``). Leaves mix in
the stdlib base a caller would naturally catch (``ValueError``, ``TimeoutError``),
and each boundary wraps lower-level errors with ``raise ... from e``.
"""

from __future__ import annotations


class NewsdeskError(Exception):
    """Root of every error newsdesk raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(NewsdeskError, ValueError):
    """The configuration is missing, unreadable or has an invalid value."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


# --- fetching -------------------------------------------------------------


class FetchError(NewsdeskError):
    """A page could not be fetched."""

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class InvalidURLError(FetchError, ValueError):
    """The text is not an http(s) URL we can fetch."""


class BlockedAddressError(FetchError):
    """The URL resolves to an address we refuse to connect to (SSRF protection)."""


class FetchTimeoutError(FetchError, TimeoutError):
    """The server was too slow to connect or to send the page."""


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(
        self, message: str, url: str | None = None, status: int = 0, *, retry_after: str | None = None
    ) -> None:
        super().__init__(message, url)
        self.status = status
        #: The response's Retry-After (seconds or an HTTP date), for 429 and 503 answers.
        self.retry_after = retry_after


class TooLargeError(FetchError):
    """The body is larger than ``fetch.max_bytes``."""


class TooManyRedirectsError(FetchError):
    """The redirect chain is longer than ``fetch.max_redirects`` (or loops)."""


class UnsupportedContentError(FetchError):
    """The response is not a web page (a PDF, an image, a binary file...)."""


class ConnectError(FetchError):
    """The host could not be resolved or the connection failed."""


# --- extraction -----------------------------------------------------------


class ExtractError(NewsdeskError):
    """An article could not be extracted from a page."""


class NotAnArticleError(ExtractError):
    """The page has no article text (an index page, a login wall, an empty page)."""


class ExtractTimeoutError(ExtractError, TimeoutError):
    """Extraction took longer than the per-page time limit."""


class ExtractBusyError(ExtractError):
    """Every extraction worker is busy and ``extract.max_queue`` pages already wait: try again soon."""


# --- storage ----------------------------------------------------------------


class StorageError(NewsdeskError):
    """The database could not be reached or a query failed."""


# --- worker processes -------------------------------------------------------


class WorkerError(NewsdeskError):
    """A call sent to a worker process did not come back with its own answer."""


class WorkerTimeoutError(WorkerError, TimeoutError):
    """The call ran past the pool's time limit (it was stopped, or its worker killed)."""


class WorkerCrashedError(WorkerError):
    """The worker process died while it held the call (a crash in C, the kernel's OOM killer)."""


class WorkerUnavailableError(WorkerError):
    """The pool has no worker and could not start one (or it was closed)."""


# --- feeds ------------------------------------------------------------------


class FeedError(NewsdeskError):
    """A feed could not be read or used."""


class FeedParseError(FeedError, ValueError):
    """The body is not a feed we can read (malformed, empty, or refused as unsafe)."""


class NotAFeedError(FeedParseError):
    """The body is a web page, not a feed; the caller may try feed discovery on it."""


class FilterError(FeedError, ValueError):
    """A feed filter pattern is invalid (bad regex, unknown flag, empty keyword)."""


class OpmlError(FeedError, ValueError):
    """An OPML file cannot be imported at all (not XML, not OPML, or refused as unsafe)."""


# --- feed subscriptions -----------------------------------------------------------


class AlreadySubscribedError(FeedError, ValueError):
    """The channel already follows this feed."""


class SubscriptionLimitError(FeedError):
    """The guild has as many subscriptions as ``feeds.max_subscriptions_per_guild`` allows."""


class DeliveryOptionError(FeedError, ValueError):
    """A webhook name or avatar, or a thread option, that Discord would refuse."""


class SubscriptionNotFoundError(FeedError, LookupError):
    """No subscription with that id in this guild."""
