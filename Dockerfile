# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY bot ./bot
COPY cogs ./cogs
# The versions CI tested (requirements.lock), not whatever is newest today.
RUN pip install --no-cache-dir --prefix=/install -c requirements.lock .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    NEWSDESK_DATABASE__URL=sqlite+aiosqlite:////data/newsdesk.db \
    NEWSDESK_HEALTH__HEARTBEAT_FILE=/data/heartbeat \
    NEWSDESK_METRICS__HOST=0.0.0.0
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /data newsdesk \
    && mkdir -p /data && chown newsdesk /data && chmod 700 /data
USER newsdesk
WORKDIR /data
VOLUME ["/data"]
# `newsdesk health` asks the process's /readyz once metrics.port is set (-e NEWSDESK_METRICS__PORT=9100:
# /metrics, /healthz and /readyz on that port); unset, as by default, it reads the heartbeat file.
HEALTHCHECK --interval=60s --timeout=10s --start-period=90s --retries=3 CMD ["newsdesk", "health"]
# On SIGTERM the bot finishes the posts being sent and stops its workers, which can take longer
# than Docker's default 10 s before SIGKILL: run with --stop-timeout 60 (compose.yaml sets
# stop_grace_period).
STOPSIGNAL SIGTERM
# The arguments are newsdesk's: the default runs everything in one process on SQLite in /data;
# `run --role gateway` or `run --role worker` runs one part of a bot scaled out on PostgreSQL
# (compose.yaml; README, "Scaling out").
ENTRYPOINT ["newsdesk"]
CMD ["run"]
