"""``ExtractorPool``: extraction in worker processes, so the event loop never parses HTML.

A :class:`~bot.workers.ProcessPool` running :func:`bot.extract._core.extract_utf8`, one page
per worker at a time (a page a user waits for never queues behind another while a worker is
free). A page that overruns the time limit is stopped in its worker, or its worker killed and
replaced when it is stuck where the timer cannot reach, so a hostile page costs one worker for
``timeout_s`` at most and nothing else. At most ``max_queue`` pages wait for a worker: beyond
them a page is refused at once as busy, rather than joining a queue that only grows.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.errors import (
    ExtractBusyError,
    ExtractError,
    ExtractTimeoutError,
    WorkerCrashedError,
    WorkerTimeoutError,
    WorkerUnavailableError,
)
from bot.extract import _load
from bot.ops import metrics
from bot.types import Article
from bot.workers import ProcessPool
from bot.workers.pipe import DEFAULT_NICENESS

if TYPE_CHECKING:
    from bot.config import ExtractSettings

log = logging.getLogger(__name__)

#: Pages a worker extracts before it is replaced, bounding what a leaky parser can hold on to.
DEFAULT_MAX_PAGES_PER_WORKER = 1000
#: How long a new worker may take to import trafilatura and warm up.
DEFAULT_START_TIMEOUT_S = 60.0


class ExtractorPool:
    """Extracts articles in ``workers`` processes, each page within ``timeout_s`` seconds.

    Workers run ``niceness`` below the caller's priority, so that on busy cores the event
    loop wins over extraction (0 keeps them at the caller's priority).

    Besides the ``workers`` pages being extracted, ``max_queue`` may wait for a worker (``None``:
    any number); a page beyond them raises :class:`ExtractBusyError` without waiting.

    Workers start on first use (or :meth:`start`); :meth:`close` stops them all.
    Also an async context manager. A pool belongs to the event loop that starts it.
    """

    def __init__(
        self,
        workers: int,
        timeout_s: float,
        *,
        max_queue: int | None = None,
        max_pages_per_worker: int = DEFAULT_MAX_PAGES_PER_WORKER,
        start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
        niceness: int = DEFAULT_NICENESS,
    ) -> None:
        self._timeout_s = timeout_s
        self._capacity = None if max_queue is None else workers + max_queue
        self._pending = 0  # pages being extracted or waiting for a worker
        self._pool = ProcessPool(
            "bot.extract._core:extract_utf8",
            workers,
            time_limit_s=timeout_s,
            warm_up="bot.extract._worker:warm_up",
            niceness=niceness,
            max_batch=1,
            batches_per_worker=1,
            max_calls_per_worker=max_pages_per_worker,
            start_timeout_s=start_timeout_s,
        )

    @classmethod
    def from_settings(cls, settings: ExtractSettings) -> ExtractorPool:
        return cls(settings.workers, settings.timeout_s, max_queue=settings.max_queue)

    @property
    def worker_pids(self) -> frozenset[int]:
        """Process ids of the live workers (for monitoring and tests)."""
        return self._pool.worker_pids

    async def __aenter__(self) -> ExtractorPool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the workers and wait until they are ready; does nothing if they are."""
        try:
            await self._pool.start()
        except WorkerUnavailableError as e:
            raise ExtractError("The extractor could not start.") from e

    async def extract(self, html: str, url: str | None = None) -> Article:
        """:func:`bot.extract.extract` in a worker process.

        Raises :class:`ExtractBusyError` when ``max_queue`` pages already wait for a worker,
        :class:`ExtractTimeoutError` when the page takes longer than ``timeout_s``,
        :class:`NotAnArticleError` and :class:`ExtractError` as ``extract`` does.
        """
        if self._capacity is not None and self._pending >= self._capacity:
            log.info("extract: busy, refused url=%s (%d pages in the pool)", url, self._pending)
            raise ExtractBusyError("The bot is busy reading other articles; please try again in a moment.")
        self._pending += 1
        try:
            return await self._run(html, url)
        finally:
            self._pending -= 1

    async def _run(self, html: str, url: str | None) -> Article:
        # Bytes, which the worker parses as they are.
        page = _load.encode(html)
        try:
            with metrics.EXTRACT_SECONDS.time():
                article: Article = await self._pool.run(page, url)
        except ExtractError:
            raise
        except WorkerTimeoutError as e:
            raise ExtractTimeoutError(
                f"Reading the article took longer than {self._timeout_s:g} seconds."
            ) from e
        except WorkerCrashedError as e:
            raise ExtractError("The extractor failed on this page.") from e
        except WorkerUnavailableError as e:
            raise ExtractError("The extractor has no working process left.") from e
        except Exception as e:  # a bug in a library on one page: that page fails, not the bot
            log.error("extract: unexpected failure on url=%s: %r", url, e)
            raise ExtractError("The article could not be extracted from the page.") from e
        return article

    async def close(self) -> None:
        """Stop every worker and wait for it to exit. Pending and later calls fail."""
        await self._pool.close()
