"""``newsdesk health --check readyz|healthz``: ask this container's listener, as a probe does.

Synchronous on purpose: a one-shot command with no event loop, run by Docker's HEALTHCHECK.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from bot.config import MetricsSettings
from bot.errors import NewsdeskError

PROBE_TIMEOUT_S = 8.0  # within the 10 s Docker and compose give a healthcheck
# A listener on every address is asked on loopback.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def probe(settings: MetricsSettings, check: str) -> str:
    """GET /readyz or /healthz; the line to print on success. Raises NewsdeskError naming what
    is not ready (or why the listener did not answer)."""
    if settings.port is None or settings.port == 0:
        raise NewsdeskError(f"--check {check} needs metrics.port (NEWSDESK_METRICS__PORT)")
    host = _WILDCARDS.get(settings.host, settings.host)
    url = f"http://{f'[{host}]' if ':' in host else host}:{settings.port}/{check}"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S) as response:
            return f"{check}: {response.status} {_summary(response.read())}"
    except urllib.error.HTTPError as e:
        raise NewsdeskError(f"{check}: {e.code} {_summary(e.read())}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise NewsdeskError(f"{check}: no answer from {url}: {reason}") from None


def _summary(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if not isinstance(data, dict):
        return str(data)
    problems = data.get("not_ready")
    if problems:
        return "not ready: " + "; ".join(f"{name}: {why}" for name, why in problems.items())
    checks = data.get("checks")
    return "ready (" + ", ".join(checks) + ")" if checks else "alive"
