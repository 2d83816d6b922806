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
# `write-secrets` (the compose `secrets` service, as root) writes the secrets it is given
# into files for the app's user (SECRETS_DIR/app) and for MySQL (SECRETS_DIR/mysql, a
# volume only the mysql service mounts), and exits.
# Anything else is run as given: `docker compose run --rm app flask db current`.
set -eu

RENDERED="${APP_RENDERED_CONFIG:-/app/instance/config.yml}"

log() { printf '%s entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

# A value given for one run (`docker compose run -e APP_KEY=...`) wins over the secret
# file compose names: the config refuses a variable set both ways.
for name in APP_KEY DB_PASSWORD REDIS_PASSWORD MAIL_PASSWORD; do
    if eval "[ -n \"\${$name:-}\" ] && [ -n \"\${${name}_FILE:-}\" ]"; then
        unset "${name}_FILE"
    fi
done

SECRETS_DIR="${SECRETS_DIR:-/run/secrets}"

write_secret() { # folder name value
    umask 077
    printf '%s' "$3" >"$1/$2.new"
    mv "$1/$2.new" "$1/$2"
}

write_secrets() {
    for name in APP_KEY DB_PASSWORD REDIS_PASSWORD MYSQL_ROOT_PASSWORD; do
        if eval "[ -z \"\${$name:-}\" ]"; then
            log "$name is not set"
            exit 1
        fi
    done
    mkdir -p "$SECRETS_DIR/app" "$SECRETS_DIR/mysql"
    # Ours again first (a restarted stack): root here has CHOWN, not the right to write
    # into another user's private folder.
    chown 0:0 "$SECRETS_DIR/app"
    chown -R 0:0 "$SECRETS_DIR/app"
    chmod 0700 "$SECRETS_DIR/app" "$SECRETS_DIR/mysql"
    write_secret "$SECRETS_DIR/app" APP_KEY "$APP_KEY"
    write_secret "$SECRETS_DIR/app" DB_PASSWORD "$DB_PASSWORD"
    write_secret "$SECRETS_DIR/app" REDIS_PASSWORD "$REDIS_PASSWORD"
    # Optional (empty: the SMTP server needs no login); the app reads it as MAIL_PASSWORD_FILE.
    write_secret "$SECRETS_DIR/app" MAIL_PASSWORD "${MAIL_PASSWORD:-}"
    write_secret "$SECRETS_DIR/mysql" DB_PASSWORD "$DB_PASSWORD"
    write_secret "$SECRETS_DIR/mysql" MYSQL_ROOT_PASSWORD "$MYSQL_ROOT_PASSWORD"
    chown -R app:app "$SECRETS_DIR/app"
    # MySQL's volume is mounted by the mysql service alone, whose entrypoint reads the
    # files as root or as its own user (whatever uid its image gives it): readable there.
    chmod 0755 "$SECRETS_DIR/mysql"
    chmod 0444 "$SECRETS_DIR/mysql/DB_PASSWORD" "$SECRETS_DIR/mysql/MYSQL_ROOT_PASSWORD"
    log "wrote the secrets into $SECRETS_DIR (app/, mysql/)"
}

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
        # --poll: bind mounts from macOS and Windows hosts send no file events. --host: the
        # container's own address, which compose publishes; `dev` binds loopback unless told.
        APP_CONFIG="$RENDERED" exec python -m app dev --no-migrate --poll --host "${BIND_ADDRESS:-0.0.0.0}"
        ;;
    worker)
        # The app service migrates; a worker only waits for the services, then consumes.
        render
        wait_for_services
        log "starting the jobs worker"
        APP_CONFIG="$RENDERED" exec flask jobs worker
        ;;
    write-secrets) write_secrets ;;
    render) render ;;
    wait) render; wait_for_services ;;
    migrate) render; wait_for_services; migrate ;;
    *) exec "$@" ;;
esac
