#!/bin/sh
# What the official postgres image does that deploy/docker-compose.yml relies on: on an empty data
# directory, initdb with POSTGRES_PASSWORD for POSTGRES_USER (password authentication over TCP), then the
# *.sql files of /docker-entrypoint-initdb.d run against a server that listens on the Unix socket only
# (so TCP clients are refused until initialisation is over), then the server listens on every address.
set -eu
: "${POSTGRES_USER:=postgres}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "Database is uninitialized and superuser password is not specified (POSTGRES_PASSWORD)" >&2
        exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    pg_ctl --silent --wait -o "-c listen_addresses=''" start
    for f in /docker-entrypoint-initdb.d/*.sql; do
        [ -e "$f" ] || continue
        echo "running $f"
        psql -v ON_ERROR_STOP=1 --quiet --username "$POSTGRES_USER" --no-password --dbname postgres -f "$f"
    done
    pg_ctl --silent --wait -m fast stop
    echo "PostgreSQL init process complete; ready for start up."
fi
if [ "$1" = postgres ]; then
    shift
    exec postgres -c listen_addresses='*' "$@"
fi
exec "$@"
