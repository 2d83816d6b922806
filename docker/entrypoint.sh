#!/bin/sh
# Container entrypoint. `serve` (the default) runs every step in order:
#   1. render   write the fully resolved config from the environment and validate it
#   2. wait     wait (bounded, with backoff) for MySQL, Redis and memcached
#   3. migrate  `flask db upgrade` under its lock (read-only databases are skipped)
#   4. exec     gunicorn replaces this shell, so SIGTERM reaches it (graceful stop)
# Each step also runs alone: `docker compose run --rm app render|wait|migrate`.
# `worker` runs 1-2, then `flask jobs worker` (the compose `worker` service).
# `dev` runs 1-3, then the development server with code reloading instead of
# gunicorn (docker-compose.dev.yml; never in production: it refuses APP_ENV=PROD).
# Anything else is run as given: `docker compose run --rm app flask db current`.
set -eu

RENDERED="${APP_RENDERED_CONFIG:-/app/instance/config.yml}"

log() { printf '%s entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

render() {
    log "rendering the config from the environment into $RENDERED"
    # The rendered file holds secrets: readable by the app user only.
    flask config render --output "$RENDERED"
    if ! APP_CONFIG="$RENDERED" flask config check; then
        log "the config is not fit to run; fix the variables above"
        exit 1
    fi
}

wait_for_services() {
    log "waiting for the databases and services"
    APP_CONFIG="$RENDERED" flask wait-for-services --timeout "${WAIT_TIMEOUT:-60}"
}

migrate() {
    if [ "${SKIP_MIGRATIONS:-false}" = "true" ]; then
        log "SKIP_MIGRATIONS=true: not migrating"
        return
    fi
    log "applying database migrations"
    APP_CONFIG="$RENDERED" flask db upgrade
}

case "${1:-serve}" in
    serve)
        render
        wait_for_services
        migrate
        log "starting gunicorn"
        APP_CONFIG="$RENDERED" exec python -m app serve
        ;;
    dev)
        render
        wait_for_services
        migrate
        log "starting the development server (debugger on; reloads as files change)"
        # --poll: bind mounts from macOS and Windows hosts send no file events.
        APP_CONFIG="$RENDERED" exec python -m app dev --no-migrate --poll
        ;;
    worker)
        # The app service migrates; a worker only waits for the services, then consumes.
        render
        wait_for_services
        log "starting the jobs worker"
        APP_CONFIG="$RENDERED" exec flask jobs worker
        ;;
    render) render ;;
    wait) render; wait_for_services ;;
    migrate) render; wait_for_services; migrate ;;
    *) exec "$@" ;;
esac
