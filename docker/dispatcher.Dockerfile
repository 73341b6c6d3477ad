# GridPatrol dispatcher: ingest, cases, routing, phone channels, API and pages. Build from the
# repository root:
#   docker build -f docker/dispatcher.Dockerfile -t gridpatrol-dispatcher .
# Mount its config at /etc/gridpatrol/dispatcher.yaml and the grid file it names; its data
# (VAPID keys, link secret, evidence) lives in /var/lib/gridpatrol.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contract contract
COPY i18n i18n
COPY edge edge
COPY dispatcher dispatcher
COPY gridpatrol gridpatrol
RUN python -m venv /opt/gridpatrol \
    && /opt/gridpatrol/bin/pip install --no-cache-dir ".[dispatcher]"

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/gridpatrol --create-home gridpatrol
COPY --from=build /opt/gridpatrol /opt/gridpatrol
ENV PATH=/opt/gridpatrol/bin:$PATH PYTHONUNBUFFERED=1
WORKDIR /var/lib/gridpatrol
USER 10001:10001
VOLUME ["/var/lib/gridpatrol"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["gridpatrol", "dispatcher", "serve", "--config", "/etc/gridpatrol/dispatcher.yaml"]
