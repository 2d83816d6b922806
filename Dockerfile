# The application image: a builder makes the virtualenv from the hashed lock, the
# runtime copies it into a slim image that has no compilers (the virtualenv has no
# pip; the base image keeps its own) and runs as a non-root user.
#
#   docker build -t app .                      (or: docker compose build)
#   docker build --build-arg APP_UID=1000 .    (match a host user for bind mounts)

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.lock requirements-build.lock /tmp/
# Every dependency ships a manylinux wheel: nothing is compiled, exact hashes only.
# setuptools (pinned too) builds the framework's wheel below.
RUN /opt/venv/bin/pip install --require-hashes --only-binary=:all: \
      -r /tmp/requirements.lock -r /tmp/requirements-build.lock
# The framework, flask-keel, built from its folder into a wheel and installed (it
# brings the `flask` commands: config, db, serve, ...). The project's own code stays
# in /app in the runtime image.
COPY packages/flask-keel /tmp/flask-keel
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation /tmp/flask-keel \
 && /opt/venv/bin/pip uninstall --yes setuptools pip

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ARG APP_UID=10001
ARG APP_GID=10001
RUN groupadd --gid "${APP_GID}" app \
 && useradd --uid "${APP_UID}" --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FLASK_APP=app \
    APP_ENV=PROD \
    BIND_ADDRESS=0.0.0.0 \
    PORT=4200 \
    METRICS_PORT=9100

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# The code belongs to root and is read-only for the app user; only instance/
# (rendered config, file sessions, SQLite) is writable.
COPY . /app
RUN mkdir -p /app/instance \
 && chown "${APP_UID}:${APP_GID}" /app/instance \
 && chmod 0755 /app/docker/entrypoint.sh

USER ${APP_UID}:${APP_GID}
# 9100: Prometheus /metrics, for scrapers on the container network only; compose
# does not publish it and the Kubernetes Service does not route it.
EXPOSE 4200 9100
# The slim image has no curl: ask /healthz with Python.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '4200'), timeout=2)"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["serve"]
