# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    NEWSDESK_DATABASE__URL=sqlite+aiosqlite:////data/newsdesk.db \
    NEWSDESK_HEALTH__HEARTBEAT_FILE=/data/heartbeat
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /data newsdesk \
    && mkdir -p /data && chown newsdesk /data
USER newsdesk
WORKDIR /data
VOLUME ["/data"]
HEALTHCHECK --interval=60s --timeout=10s --start-period=90s --retries=3 CMD ["newsdesk", "health"]
ENTRYPOINT ["newsdesk"]
CMD ["run"]
