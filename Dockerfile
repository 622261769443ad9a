# syntax=docker/dockerfile:1
# One image for both processes: `switchboard gateway` (the default) and `switchboard worker`.
# docker build -t switchboard .
ARG PYTHON_IMAGE=python:3.11-slim

# --- build: compile anything without a wheel, install into a venv that the runtime copies ---
FROM ${PYTHON_IMAGE} AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The pinned tree first (its layer is reused until the lock changes), then Switchboard
# itself without resolving anything: the image runs exactly the versions CI tested.
COPY requirements/runtime.lock requirements/runtime.lock
RUN pip install -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY schemas/ schemas/
COPY gateway/ gateway/
COPY streams/ streams/
COPY switchboard/ switchboard/
RUN pip install --no-deps .

# --- runtime: the venv and a non-root user; no compiler, no pip cache, no sources ---
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SWITCHBOARD_DATA_DIR=/var/lib/switchboard
# A fixed numeric uid/gid so Kubernetes' runAsNonRoot can verify it and fsGroup matches.
RUN groupadd --system --gid 10001 switchboard \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /var/lib/switchboard --shell /usr/sbin/nologin switchboard \
 && mkdir -p /var/lib/switchboard \
 && chown 10001:10001 /var/lib/switchboard
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
# The workers' RocksDB tables live here: mount a volume (compose) or a PVC (k8s) on it.
WORKDIR /var/lib/switchboard
# 8080: gateway HTTP; 6066: worker web (query views, /readyz, /metrics).
EXPOSE 8080 6066
# No HEALTHCHECK: the probe depends on the process (gateway or worker), so compose and
# Kubernetes declare it per service.
ENTRYPOINT ["switchboard"]
CMD ["gateway", "--host", "0.0.0.0", "--port", "8080"]
