"""The operator's HTTP listener: ``/metrics``, ``/healthz`` and ``/readyz``.

Started by the core for every role when ``metrics.port`` is set (:meth:`Newsdesk.start_duties`).
It answers on its own aiohttp server, never through Discord, so an orchestrator and Prometheus
see the process even while the gateway is down.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.config import MetricsSettings, Settings
from bot.errors import ConfigError
from bot.ops import metrics
from bot.ops.gauges import LoopLag, ScrapeGauges
from bot.ops.health import Readiness

log = logging.getLogger(__name__)


class OpsListener:
    """The listener of one process; :meth:`start` binds, :meth:`close` stops it."""

    def __init__(self, settings: MetricsSettings, readiness: Readiness) -> None:
        self._settings = settings
        self._readiness = readiness
        self._runner: web.AppRunner | None = None
        self._gauges = ScrapeGauges(readiness.db)
        self._lag = LoopLag()
        self.port: int | None = None
        """The bound port (the one chosen when metrics.port is 0), once started."""

    async def start(self) -> None:
        """Bind ``metrics.host:metrics.port``. Raises ConfigError when the address is taken."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        # No access log: probes every few seconds would drown the bot's own lines.
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._settings.host, self._settings.port, reuse_address=True)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            raise ConfigError(
                f"cannot listen on {self._settings.host}:{self._settings.port}: {e.strerror or e}",
                key="metrics.port",
            ) from None
        self._runner = runner
        self._lag.start()
        self.port = _bound_port(runner)
        log.info("operator listener on http://%s:%s", self._settings.host, self.port)

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        await self._lag.close()
        await self._gauges.close()
        await self._readiness.close()

    async def _healthz(self, request: web.Request) -> web.Response:
        # The loop answers: the process is alive. Readiness is /readyz's question.
        return web.json_response({"alive": True})

    async def _readyz(self, request: web.Request) -> web.Response:
        verdict = await self._readiness.verdict()
        metrics.record_checks({name: name not in verdict.problems for name in verdict.checks})
        return web.json_response(verdict.as_json(), status=200 if verdict.ready else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        verdict = await self._readiness.verdict()
        metrics.record_checks({name: name not in verdict.problems for name in verdict.checks})
        presence = self._readiness.presence()
        age = presence.beat_age_s() if presence is not None else None
        if age is not None:
            metrics.HEARTBEAT_AGE.set(age)
        run, connected = self._readiness.shard_counts()
        metrics.SHARDS_RUN.set(run)
        metrics.SHARDS_CONNECTED.set(connected)
        await self._gauges.refresh()
        body, content_type = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})


async def start_listener(
    settings: Settings, roles: tuple[str, ...], readiness: Readiness
) -> OpsListener | None:
    """Start this process's listener, or None when ``metrics.port`` is unset."""
    if "gateway" not in roles:
        shards = ""
    elif settings.discord.shard_ids is not None:
        shards = ",".join(map(str, settings.discord.shard_ids))
    else:
        shards = "all"
    metrics.describe_process(roles, shards)
    if settings.metrics.port is None:
        return None
    listener = OpsListener(settings.metrics, readiness)
    await listener.start()
    return listener


def _bound_port(runner: web.AppRunner) -> int | None:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return None
