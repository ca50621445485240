#!/bin/sh
# Entrypoint of the pgtune test image: initialise a throwaway cluster on first start, then run
# PostgreSQL configured the way pgtune's tests (and the advisor) need it. Extra arguments are passed
# to postgres, e.g. `-c max_connections=50`.
#
# Environment:
#   PGTUNE_LIFETIME_SECONDS  stop the server after this many seconds (default 0 = never). Test runs
#                            set it so a container whose test process crashed does not run forever
#                            (Ryuk, the usual reaper, cannot be used where no registry is reachable).
#   PGTUNE_PRIMARY_HOST      make this container a streaming replica of that primary instead of a new
#   PGTUNE_PRIMARY_PORT      cluster: pg_basebackup -R from it (port default 5432), with the physical
#   PGTUNE_SLOT              replication slot PGTUNE_SLOT when set (created by the base backup).
set -eu

bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PGDATA=${PGDATA:-/var/lib/pgtune/data}
export PGDATA

if [ ! -s "$PGDATA/PG_VERSION" ] && [ -n "${PGTUNE_PRIMARY_HOST:-}" ]; then
  # A replica: the primary's configuration (the settings below) comes with its base backup.
  mkdir -p "$PGDATA"
  chown -R postgres:postgres "$(dirname "$PGDATA")"
  chmod 700 "$PGDATA"
  port=${PGTUNE_PRIMARY_PORT:-5432}
  tries=0
  until "$bindir/pg_isready" -q -h "$PGTUNE_PRIMARY_HOST" -p "$port"; do
    tries=$((tries + 1))
    [ "$tries" -lt 120 ] || { echo "pgtune-entrypoint: primary $PGTUNE_PRIMARY_HOST:$port never answered" >&2; exit 1; }
    sleep 0.5
  done
  slot=""
  [ -n "${PGTUNE_SLOT:-}" ] && slot="--slot=$PGTUNE_SLOT --create-slot"
  # shellcheck disable=SC2086
  setpriv --reuid=postgres --regid=postgres --init-groups \
    "$bindir/pg_basebackup" -h "$PGTUNE_PRIMARY_HOST" -p "$port" -U postgres -D "$PGDATA" -R -X stream -c fast $slot
elif [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  chown -R postgres:postgres "$(dirname "$PGDATA")"
  chmod 700 "$PGDATA"
  setpriv --reuid=postgres --regid=postgres --init-groups \
    "$bindir/initdb" -D "$PGDATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$PGDATA/postgresql.conf" <<'CONF'

# --- pgtune test image ---
listen_addresses = '*'
max_connections = 200
shared_buffers = 128MB
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
pg_stat_statements.max = 10000
track_io_timing = on
# A test server holds nothing worth keeping: trade durability for speed.
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  # compute_query_id exists from 14 on (13's pg_stat_statements computes its own query IDs).
  if [ "$(cat "$PGDATA/PG_VERSION")" -ge 14 ]; then
    cat >>"$PGDATA/postgresql.conf" <<'CONF'
compute_query_id = on
CONF
  fi
  cat >>"$PGDATA/postgresql.conf" <<'CONF'
# A test that needs other settings copies them here before the container starts (pgtest.Dedicated);
# included last, they win.
include_if_exists = '/etc/pgtune/extra.conf'
CONF
  # Tests reach the server through Docker's bridge, from an address that is not loopback.
  cat >>"$PGDATA/pg_hba.conf" <<'HBA'
host all all 0.0.0.0/0 trust
host all all ::/0 trust
host replication all 0.0.0.0/0 trust
host replication all ::/0 trust
HBA
fi

lifetime=${PGTUNE_LIFETIME_SECONDS:-0}
if [ "$lifetime" -gt 0 ] 2>/dev/null; then
  # postgres becomes PID 1 below; SIGINT is its "fast shutdown".
  (sleep "$lifetime" && kill -INT 1) &
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups "$bindir/postgres" -D "$PGDATA" "$@"
