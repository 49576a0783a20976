"""Per-subscription entry filters: keywords or ``/regex/flags``, include and exclude.

Users type these patterns, so regexes run under the ``regex`` module's timeout: a catastrophic
pattern costs at most ``timeout_s`` per entry and counts as no match. Matching releases the GIL
(``concurrent=True``), so a caller can run a filter holding user regexes in a thread
(:attr:`EntryFilter.has_regex`) without stalling the event loop: the poller uses
:func:`filter_executor`, threads of their own, so slow filters never queue charset detection or
discovery behind them.

:meth:`EntryFilter.judge` also bounds a whole batch of entries (one subscription's new items in
one poll) by a time budget (:data:`BUDGET_S`): each entry gets a fair share of what is left, a
pattern that runs out of it counts as no match, and entries reached with no time left are *not
judged* and not posted (rather than posted against an exclude filter nobody could check); the
caller tells the subscription's channel.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import regex

from bot.errors import FilterError
from bot.feeds.types import FeedEntry

log = logging.getLogger(__name__)

MAX_PATTERNS = 50
MAX_PATTERN_LENGTH = 300
DEFAULT_TIMEOUT_S = 0.05
#: Time one subscription's filter may spend on the new items of one poll, all entries together.
BUDGET_S = 0.25
#: Threads matching user regexes (matching releases the GIL; two cores here).
FILTER_THREADS = 2
#: The first time limit of a pattern on an entry, in :meth:`EntryFilter.judge`.
_FIRST_TRY_S = 0.002
#: With less of the budget left than this, an entry is not started.
_MIN_TRY_S = 0.0005
_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL, "x": regex.VERBOSE}


@dataclass(frozen=True, slots=True)
class Pattern:
    """One compiled filter pattern."""

    #: What the user typed.
    source: str
    #: The compiled expression (keywords become a whole-word, case-insensitive regex).
    compiled: regex.Pattern[str] = field(repr=False, compare=False)
    #: A regex the user wrote (a keyword's is linear-time: cheap anywhere).
    is_regex: bool = False


@dataclass(frozen=True, slots=True)
class Judgement:
    """The verdicts on a batch of entries, within a time budget."""

    #: Whether each entry passes; ``False`` for those not judged.
    passing: tuple[bool, ...]
    #: Entries on which a pattern ran out of time (counted as no match).
    timed_out: int = 0
    #: Entries reached with the budget spent: not judged, so not passed.
    not_judged: int = 0


@dataclass(frozen=True, slots=True)
class FilterResult:
    """The verdict on one entry."""

    #: Whether the entry passes the filter (should be posted).
    matched: bool
    #: Patterns that hit the time limit on this entry (each counted as no match).
    timed_out: tuple[str, ...]


def compile_pattern(source: str) -> Pattern:
    """A keyword (case-insensitive, whole word) or ``/regex/flags`` (flags: i, m, s, x).

    Raises :class:`FilterError` with a message fit for the user.
    """
    text = source.strip()
    if not text:
        raise FilterError("A filter pattern cannot be empty.")
    if len(text) > MAX_PATTERN_LENGTH:
        raise FilterError(f"A filter pattern can be at most {MAX_PATTERN_LENGTH} characters long.")
    if len(text) >= 2 and text.startswith("/") and "/" in text[1:]:
        body, _, flag_text = text[1:].rpartition("/")
        unknown = sorted(set(flag_text) - set(_FLAGS))
        if unknown:
            raise FilterError(
                f"Unknown regex flag(s) {''.join(unknown)!r} in {text!r}: use i, m, s or x "
                "(to match the text literally, leave out the slashes)."
            )
        if not body:
            raise FilterError(f"The regex in {text!r} is empty.")
        flags = 0
        for letter in flag_text:
            flags |= _FLAGS[letter]
        try:
            compiled = regex.compile(body, flags)
        except Exception as e:  # regex.error mostly, but odd inline flags raise other things
            raise FilterError(f"Invalid regex {text!r}: {e}.") from e
        return Pattern(source=text, compiled=compiled, is_regex=True)
    # Lookarounds rather than \b, so keywords that start or end with punctuation ("c++", ".NET")
    # still match as whole words.
    compiled = regex.compile(rf"(?<!\w){regex.escape(text)}(?!\w)", regex.IGNORECASE)
    return Pattern(source=text, compiled=compiled)


def _compile_all(sources: list[str] | tuple[str, ...], kind: str) -> tuple[Pattern, ...]:
    if len(sources) > MAX_PATTERNS:
        raise FilterError(f"At most {MAX_PATTERNS} {kind} patterns are allowed.")
    return tuple(compile_pattern(s) for s in sources)


@dataclass(frozen=True, slots=True, init=False)
class EntryFilter:
    """Passes entries matching any ``include`` pattern (or all, when there is none) and no
    ``exclude`` pattern, looking at title, summary and categories.
    """

    #: Patterns of which at least one must match (none: everything is included).
    include: tuple[Pattern, ...]
    #: Patterns none of which may match.
    exclude: tuple[Pattern, ...]
    #: Time limit for one pattern on one entry, in seconds.
    timeout_s: float

    def __init__(
        self,
        include: list[str] | tuple[str, ...] = (),
        exclude: list[str] | tuple[str, ...] = (),
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        object.__setattr__(self, "include", _compile_all(include, "include"))
        object.__setattr__(self, "exclude", _compile_all(exclude, "exclude"))
        object.__setattr__(self, "timeout_s", timeout_s)

    @property
    def has_regex(self) -> bool:
        """Whether a pattern is a user regex: one may take up to ``timeout_s`` per entry, so
        match in a thread (matching releases the GIL) rather than on the event loop.
        """
        return any(p.is_regex for p in (*self.include, *self.exclude))

    def evaluate(self, entry: FeedEntry, *, timeout_s: float | None = None) -> FilterResult:
        """The verdict on ``entry``, with the patterns that timed out (each pattern gets
        ``timeout_s``, by default the filter's own limit).
        """
        text = "\n".join(part for part in (entry.title, entry.summary, *entry.categories) if part)
        timeout = self.timeout_s if timeout_s is None else timeout_s
        timed_out: list[str] = []
        included = not self.include or any(self._search(p, text, timeout, timed_out) for p in self.include)
        excluded = included and any(self._search(p, text, timeout, timed_out) for p in self.exclude)
        return FilterResult(matched=included and not excluded, timed_out=tuple(timed_out))

    def judge(self, entries: Sequence[FeedEntry], budget_s: float = BUDGET_S) -> Judgement:
        """:meth:`evaluate` each of ``entries`` within ``budget_s`` in all (see the module
        docstring). Blocking: run it in :func:`filter_executor` when :attr:`has_regex`.

        Every entry is first tried with a short time limit, then those that ran out again with
        four times as long, up to :attr:`timeout_s`: the cheap verdicts all come first, so a
        few pathological titles cannot starve the others of the budget.
        """
        clock = time.perf_counter
        deadline = clock() + budget_s
        passing = [False] * len(entries)
        timed_out: set[int] = set()
        tried: set[int] = set()
        pending = list(range(len(entries)))
        limit = min(_FIRST_TRY_S, self.timeout_s)
        while pending:
            again: list[int] = []
            for n, i in enumerate(pending):
                if deadline - clock() < _MIN_TRY_S:
                    # Out of time: tried and unresolved counts as timed out, untried as not judged.
                    timed_out.update(j for j in pending[n:] if j in tried)
                    timed_out.update(again)
                    return _judgement(passing, timed_out, tried)
                result = self.evaluate(entries[i], timeout_s=min(limit, deadline - clock()))
                tried.add(i)
                if result.timed_out and limit < self.timeout_s:
                    again.append(i)
                    continue
                # At the filter's own limit a pattern that runs out counts as no match, as ever.
                passing[i] = result.matched
                if result.timed_out:
                    timed_out.add(i)
            pending = again
            limit = min(limit * 4, self.timeout_s)
        return _judgement(passing, timed_out, tried)

    def matches(self, entry: FeedEntry) -> bool:
        """Whether ``entry`` passes; timeouts are logged and count as no match."""
        result = self.evaluate(entry)
        if result.timed_out:
            log.warning(
                "filter patterns timed out (counted as no match): %s entry=%s", result.timed_out, entry.link
            )
        return result.matched

    def passing(self, entries: Sequence[FeedEntry]) -> list[bool]:
        """:meth:`matches` for each of ``entries`` (one call for a thread to run)."""
        return [self.matches(entry) for entry in entries]

    def _search(self, pattern: Pattern, text: str, timeout_s: float, timed_out: list[str]) -> bool:
        try:
            return pattern.compiled.search(text, timeout=timeout_s, concurrent=True) is not None
        except TimeoutError:
            timed_out.append(pattern.source)
            return False


def _judgement(passing: list[bool], timed_out: set[int], tried: set[int]) -> Judgement:
    return Judgement(tuple(passing), timed_out=len(timed_out), not_judged=len(passing) - len(tried))


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def filter_executor() -> ThreadPoolExecutor:
    """The threads that match user regexes, made on first use and shared by the process."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(FILTER_THREADS, thread_name_prefix="newsdesk-filter")
        return _executor
