# syntax=docker/dockerfile:1
# pushsvc image: one gunicorn gevent worker per container (scale with pods).
#
# Stages:
#   js       - fetches the Socket.IO browser client and the Admin UI from npm (runtime deps
#              only, as pinned in package-lock.json);
#   build    - builds a virtualenv with `pip install .[server]` (no dev/test deps); the
#              wheel's build step copies the browser files from node_modules into the package;
#   runtime  - slim Python, non-root, the venv, nothing else.
#
# Probes: the Kubernetes manifests use GET /readyz (readiness) and /healthz (liveness);
# the HEALTHCHECK below is for plain `docker run`.

ARG PYTHON_VERSION=3.11
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS js
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml setup.py README.md package-lock.json ./
COPY --from=js /src/node_modules/ node_modules/
COPY emitter/ emitter/
COPY pushsvc/ pushsvc/
# Versions are pinned in pyproject.toml; this installs the local project, not a registry name.
# hadolint ignore=DL3013
RUN pip install ".[server]"

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="pushsvc" \
      org.opencontainers.image.description="Kubernetes-native Socket.IO push for Flask"
RUN groupadd --system --gid 10001 pushsvc \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin pushsvc
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PUSHSVC_HOST=0.0.0.0 \
    PUSHSVC_PORT=5000
USER 10001:10001
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PUSHSVC_PORT', '5000'), timeout=2)"]
# The entry runs gunicorn in the foreground as PID 1, so SIGTERM reaches it and
# pushsvc drains for PUSHSVC_SHUTDOWN_GRACE_SECONDS.
ENTRYPOINT ["pushsvc"]
CMD ["serve"]
