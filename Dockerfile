# sms-bridge container image.
#
#   docker build -t ghcr.io/example/sms-bridge:0.1.0 .
#   docker run --rm -p 8080:8080 --env-file .env \
#     -v "$PWD/app.yaml:/config/app.yaml:ro" ghcr.io/example/sms-bridge:0.1.0
#
# Two stages: the builder turns the project and every dependency into wheels in /wheels; the
# final image installs only those wheels (no index, no compiler) and runs as uid/gid 10001.
# Needs BuildKit (the default builder since Docker 23) for the RUN --mount below.

# ---- builder: wheels for the project and its dependencies --------------------------------
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

# A compiler only for dependencies without a prebuilt wheel for this platform; it stays here.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only what the wheel is built from (see [tool.hatch.build] in pyproject.toml).
COPY pyproject.toml README.md ./
COPY manifests/slack-app.yaml ./manifests/slack-app.yaml
COPY bot ./bot

RUN pip wheel --wheel-dir /wheels .

# ---- final: the runtime image ------------------------------------------------------------
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    SMS_BRIDGE_CONFIG=/config/app.yaml

RUN groupadd --gid 10001 sms-bridge \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin sms-bridge \
    && mkdir -p /app /config \
    && chown 10001:10001 /app

# The wheels are bind-mounted from the builder, so they never become a layer of this image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels sms-bridge

WORKDIR /app
USER 10001:10001

# The port the service listens on, one setting for both: `sms-bridge serve` listens on $PORT
# (its --port default), and the health check below probes $PORT. Serve on another port with
# `docker run -e PORT=9000 -p 9000:9000 ...`.
ENV PORT=8080
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['PORT'] + '/healthz', timeout=4)"]

ENTRYPOINT ["sms-bridge"]
CMD ["serve", "--host", "0.0.0.0", "--config", "/config/app.yaml"]
