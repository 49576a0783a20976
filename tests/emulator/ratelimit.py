"""Rate limits: per-route buckets, a global limit and injected faults (pure; callers pass ``now``).

Fixed windows are enough to reproduce what a client must handle: the
X-RateLimit-* headers on every response and a 429 when a bucket is empty.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field


def compile_route_pattern(pattern: str) -> tuple[str | None, re.Pattern[str]]:
    """``"POST /channels/*/messages"`` or ``"/channels/{channel_id}/messages"`` → (method, regex).

    ``*`` and ``{name}`` match one path segment, ``**`` matches anything; the path is
    relative to ``/api/v10``.
    """
    method, _, path = pattern.strip().rpartition(" ")
    regex = ""
    for token in re.split(r"(\*\*|\*|\{[^}]+\})", path):
        if token == "**":
            regex += ".*"
        elif token == "*" or (token.startswith("{") and token.endswith("}")):
            regex += "[^/]+"
        else:
            regex += re.escape(token)
    return (method.upper() or None), re.compile(f"^{regex}/?$")


@dataclass(frozen=True)
class BucketRule:
    """A limit for the routes matching ``pattern``, per major parameter."""

    pattern: str
    limit: int
    window_s: float


@dataclass(frozen=True)
class RateLimitConfig:
    rules: tuple[BucketRule, ...] = (
        # Discord's own figure for sending messages: 5 per 5 s per channel.
        BucketRule("POST /channels/{channel_id}/messages", 5, 5.0),
    )
    default_limit: int = 50
    default_window_s: float = 1.0
    global_limit: int = 50
    """Requests per second across all routes (interaction callbacks are exempt, as on Discord)."""
    enabled: bool = True


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    reset_at: float
    """Unix time at which the bucket refills."""
    bucket: str
    scope: str
    """"user" for a route bucket, "global" for the global limit, "shared" for injected ones."""
    is_global: bool = False


@dataclass
class _Window:
    started: float
    count: int = 0


@dataclass
class Injection:
    """Fail the next ``count`` requests matching a route with ``status``."""

    pattern: str
    status: int
    count: int
    retry_after: float = 0.5
    is_global: bool = False
    hits: int = 0
    _method: str | None = field(init=False, default=None)
    _regex: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._method, self._regex = compile_route_pattern(self.pattern)

    def matches(self, method: str, path: str) -> bool:
        return (self._method is None or self._method == method) and bool(self._regex.match(path))

    @property
    def exhausted(self) -> bool:
        return self.hits >= self.count


def bucket_hash(route_key: str) -> str:
    return hashlib.sha1(route_key.encode()).hexdigest()[:16]


class RateLimiter:
    """Counts requests per (route, major parameter) and globally."""

    def __init__(self, config: RateLimitConfig) -> None:
        self.config = config
        self._rules = [(compile_route_pattern(r.pattern), r) for r in config.rules]
        self._windows: dict[tuple[str, str], _Window] = {}
        self._global = _Window(0.0)

    def rule_for(self, method: str, template: str) -> tuple[int, float]:
        for (rule_method, regex), rule in self._rules:
            if (rule_method is None or rule_method == method) and regex.match(template):
                return rule.limit, rule.window_s
        return self.config.default_limit, self.config.default_window_s

    def hit(
        self, method: str, template: str, major: str, *, now: float, wall: float, exempt_global: bool = False
    ) -> Verdict:
        """Count one request at monotonic ``now`` (``wall`` is the Unix time for the Reset header)."""
        route_key = f"{method} {template}"
        limit, window_s = self.rule_for(method, template)
        window = self._windows.get((route_key, major))
        if window is None or now - window.started >= window_s:
            window = self._windows[(route_key, major)] = _Window(now)
        reset_after = max(window.started + window_s - now, 0.0)
        name = bucket_hash(route_key)

        if self.config.enabled and not exempt_global:
            if now - self._global.started >= 1.0:
                self._global = _Window(now)
            if self._global.count >= self.config.global_limit:
                retry = max(self._global.started + 1.0 - now, 0.001)
                return Verdict(
                    False,
                    limit,
                    max(limit - window.count, 0),
                    retry,
                    wall + retry,
                    name,
                    "global",
                    is_global=True,
                )
            self._global.count += 1

        if self.config.enabled and window.count >= limit:
            return Verdict(False, limit, 0, reset_after, wall + reset_after, name, "user")
        window.count += 1
        return Verdict(
            True, limit, max(limit - window.count, 0), reset_after, wall + reset_after, name, "user"
        )


def ratelimit_headers(verdict: Verdict) -> dict[str, str]:
    headers = {
        "X-RateLimit-Limit": str(verdict.limit),
        "X-RateLimit-Remaining": str(verdict.remaining),
        "X-RateLimit-Reset": f"{verdict.reset_at:.3f}",
        "X-RateLimit-Reset-After": f"{verdict.reset_after:.3f}",
        "X-RateLimit-Bucket": verdict.bucket,
    }
    return headers


def too_many_requests(
    retry_after: float, *, scope: str, is_global: bool
) -> tuple[dict[str, object], dict[str, str]]:
    """Body and extra headers of a 429, as Discord sends them (``Via`` included: discord.py checks it)."""
    body: dict[str, object] = {
        "message": "You are being rate limited.",
        "retry_after": round(retry_after, 3),
        "global": is_global,
    }
    if is_global:
        body["code"] = 0
    headers = {
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Scope": scope,
        "Via": "1.1 google",
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    return body, headers
