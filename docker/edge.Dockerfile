# GridPatrol edge worker, CPU. Build from the repository root:
#   docker build -f docker/edge.Dockerfile -t gridpatrol-edge .
# Mount the town config at /etc/gridpatrol/edge.yaml and the ONNX model under /models;
# evidence and the outbox live in /var/lib/gridpatrol (a volume: they must survive restarts).
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
    && /opt/gridpatrol/bin/pip install --no-cache-dir ".[edge]"

FROM python:3.11-slim-bookworm
# A CJK font: the evidence images' captions are drawn in Chinese (edge/caption.py)
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei=0.2.0-beta-3.1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/gridpatrol --create-home gridpatrol
COPY --from=build /opt/gridpatrol /opt/gridpatrol
ENV PATH=/opt/gridpatrol/bin:$PATH PYTHONUNBUFFERED=1
WORKDIR /var/lib/gridpatrol
USER 10001:10001
VOLUME ["/var/lib/gridpatrol"]
# Prometheus metrics and /healthz (the config's metrics: {host: 0.0.0.0, port: 9108}); the health
# check asks /healthz: 503 while the broker is away, no camera is online or the outbox backs up
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4)"]
ENTRYPOINT ["gridpatrol", "edge", "run", "--config", "/etc/gridpatrol/edge.yaml"]
