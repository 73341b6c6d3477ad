# GridPatrol edge worker for NVIDIA GPUs: ONNX Runtime's CUDA build on NVIDIA's CUDA runtime
# image (run with --gpus all, or the compose file's gpu profile). Build from the repository root:
#   docker build -f docker/edge-cuda.Dockerfile -t gridpatrol-edge-cuda .
# The model config picks the provider (model: {providers: [CUDAExecutionProvider, CPUExecutionProvider]}).
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ARG ONNXRUNTIME_GPU=1.23.2

FROM ${CUDA_IMAGE} AS build
ARG ONNXRUNTIME_GPU
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3=3.12.* python3-venv=3.12.* \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contract contract
COPY i18n i18n
COPY edge edge
COPY dispatcher dispatcher
COPY gridpatrol gridpatrol
RUN python3 -m venv /opt/gridpatrol \
    && /opt/gridpatrol/bin/pip install --no-cache-dir ".[edge]" \
    && /opt/gridpatrol/bin/pip uninstall -y onnxruntime \
    && /opt/gridpatrol/bin/pip install --no-cache-dir "onnxruntime-gpu==${ONNXRUNTIME_GPU}"

FROM ${CUDA_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3=3.12.* fonts-wqy-microhei=0.2.0-beta-3.1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/gridpatrol --create-home gridpatrol
COPY --from=build /opt/gridpatrol /opt/gridpatrol
ENV PATH=/opt/gridpatrol/bin:$PATH PYTHONUNBUFFERED=1
WORKDIR /var/lib/gridpatrol
USER 10001:10001
VOLUME ["/var/lib/gridpatrol"]
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/metrics', timeout=4)"]
ENTRYPOINT ["gridpatrol", "edge", "run", "--config", "/etc/gridpatrol/edge.yaml"]
