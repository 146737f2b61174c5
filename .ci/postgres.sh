#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (examples/tests/pg_web.rs).
#
#   bash .ci/postgres.sh start DIR   installs Debian's postgresql if initdb/pg_ctl are missing,
#                                    makes a data directory in DIR (an empty directory, e.g.
#                                    from mktemp -d), starts the server on 127.0.0.1 on a free
#                                    port and prints its connection string on stdout
#   bash .ci/postgres.sh stop DIR    stops that server and removes DIR; safe to call twice, or
#                                    after a failed start
#
# As root (CI) the server runs as the `postgres` system user: initdb refuses to run as root.
# Progress goes to stderr, so `COGEN_TEST_POSTGRES=$(bash .ci/postgres.sh start "$dir")` works.
set -euo pipefail

# Marks a directory this script made, so `stop` never removes anything else.
marker=.cogen-postgres

pg_bin() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"
    return
  fi
  # Debian keeps the server binaries out of PATH, one directory per major version.
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$newest" ] && [ -x "$newest/initdb" ] && [ -x "$newest/pg_ctl" ]; then
    echo "$newest"
  fi
}

# Runs a server program as the user who owns the data directory.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  local dir=$1 bin port
  bin=$(pg_bin)
  if [ -z "$bin" ]; then
    echo "postgres.sh: installing Debian's postgresql" >&2
    # No default cluster: the package would otherwise make one and start it on port 5432.
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/cogen-ci.conf
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >&2
    bin=$(pg_bin)
    [ -n "$bin" ] || { echo "postgres.sh: no initdb/pg_ctl after installing" >&2; exit 1; }
  fi
  # Only a new or empty directory: `stop` removes it whole.
  if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    echo "postgres.sh: $dir is not empty; give a new or empty directory" >&2
    exit 1
  fi
  mkdir -p "$dir"
  touch "$dir/$marker"
  chmod 755 "$dir"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$dir"
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # Trust on loopback only: a throwaway server for the tests, listening nowhere else.
  as_owner "$bin/initdb" -D "$dir/data" -U cogen --auth=trust --no-sync -E UTF8 >&2
  # The Unix socket goes into the data directory: /var/run/postgresql may not exist.
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/data -c fsync=off" start >&2 \
    || { cat "$dir/server.log" >&2 || true; exit 1; }
  echo "host=127.0.0.1 port=$port user=cogen dbname=postgres"
}

stop() {
  local dir=$1 bin
  [ -e "$dir/$marker" ] || return 0
  if [ -e "$dir/data/postmaster.pid" ]; then
    bin=$(pg_bin)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2 || true
  fi
  rm -rf "$dir"
}

case "${1:-} ${2:+dir}" in
  "start dir") start "$2" ;;
  "stop dir") stop "$2" ;;
  *)
    echo "usage: bash .ci/postgres.sh start|stop DIR" >&2
    exit 2
    ;;
esac
