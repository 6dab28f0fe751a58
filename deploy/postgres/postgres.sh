#!/usr/bin/env bash
# Private PostgreSQL server for CI and local integration tests.
#
# Usage: deploy/postgres/postgres.sh install|start|stop|status|url
#   install  apt-get install Debian's "postgresql" package, only when no server
#            binaries are found under /usr/lib/postgresql/*/bin.
#   start    create (once) a private cluster and start it on 127.0.0.1, then make
#            sure role "lienthong" (password "lienthong", LOGIN CREATEDB) and
#            database "lienthong" owned by it exist. No-op when already running.
#   stop     fast shutdown (pg_ctl stop -m fast). No-op when not running.
#   status   exit 0 when the server is running, 1 otherwise.
#   url      print the SQLAlchemy/asyncpg URL of the database.
#
# Environment:
#   LIENTHONG_VAR      state directory (default: $PWD/var); the cluster lives in
#                      $LIENTHONG_VAR/ci/postgres (data/, run/ socket dir, postgres.log)
#   PG_PORT            TCP port on 127.0.0.1 (default: 55432)
#   PG_START_TIMEOUT   seconds to wait for the server to accept connections (default: 60)
#
# The server refuses to run as root: when run as root the cluster is owned by and
# run as the "postgres" OS user (runuser); otherwise as the calling user.
set -euo pipefail

PG_PORT="${PG_PORT:-55432}"
PG_START_TIMEOUT="${PG_START_TIMEOUT:-60}"
PG_USER_NAME="lienthong"
PG_PASSWORD="lienthong"
PG_DATABASE="lienthong"

log() { printf '[postgres] %s\n' "$*" >&2; }
die() { printf '[postgres] ERROR: %s\n' "$*" >&2; exit 1; }

var_dir() {
    local v="${LIENTHONG_VAR:-$PWD/var}"
    case "$v" in /*) ;; *) v="$PWD/$v" ;; esac
    printf '%s\n' "$v"
}

pg_bindir() {
    local d
    d="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
        printf '%s\n' "$d"
    fi
}

# OS user that owns and runs the cluster.
run_user() {
    if [[ "$(id -u)" -eq 0 ]]; then echo postgres; else id -un; fi
}

# Run a command as the cluster's OS user (from /: the caller's cwd may be
# unreadable for that user; all paths used here are absolute).
as_pg() {
    if [[ "$(id -u)" -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# Can the cluster's OS user reach (traverse) this directory?
reachable_by_pg() {
    local dir="$1"
    if [[ "$(id -u)" -ne 0 ]]; then return 0; fi
    runuser -u postgres -- test -x "$dir" 2>/dev/null
}

# Sets PG_BASE, PG_DATA, PG_RUN, PG_LOG.
resolve_dirs() {
    local base parent
    base="$(var_dir)/ci/postgres"
    PG_BASE="$base"
    if [[ "$(id -u)" -eq 0 ]]; then
        # The postgres user must be able to traverse every parent of the data dir
        # (e.g. a clone under /root is not reachable). Fall back to a per-path
        # directory under /var/tmp in that case.
        parent="$(dirname "$base")"
        while [[ ! -d "$parent" ]]; do parent="$(dirname "$parent")"; done
        if ! reachable_by_pg "$parent"; then
            PG_BASE="/var/tmp/lienthong-postgres-$(printf '%s' "$base" | md5sum | cut -c1-12)"
            log "warning: user postgres cannot reach $base; using $PG_BASE instead"
        fi
    fi
    PG_DATA="$PG_BASE/data"
    PG_LOG="$PG_BASE/postgres.log"
    PG_RUN="$PG_BASE/run"
    # Unix socket paths are limited to ~107 bytes.
    if (( ${#PG_RUN} + 20 > 100 )); then
        PG_RUN="/tmp/lienthong-postgres-$PG_PORT"
    fi
}

cmd_install() {
    if [[ -n "$(pg_bindir)" ]]; then
        log "PostgreSQL binaries already installed in $(pg_bindir)"
    else
        [[ "$(id -u)" -eq 0 ]] || die "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
        log "installing PostgreSQL from Debian's packages (apt-get) ..."
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >&2 || die "apt-get update failed"
        apt-get install -y -q --no-install-recommends postgresql >&2 || die "apt-get install postgresql failed"
        [[ -n "$(pg_bindir)" ]] || die "postgresql installed but no binaries found under /usr/lib/postgresql/*/bin"
        log "installed PostgreSQL in $(pg_bindir)"
    fi
    if [[ "$(id -u)" -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        log "creating OS user postgres"
        useradd --system --home-dir /var/lib/postgresql --create-home --shell /bin/bash postgres
    fi
}

is_running() {
    local bindir="$1"
    [[ -f "$PG_DATA/PG_VERSION" ]] || return 1
    as_pg "$bindir/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

write_config() {
    local conf="$PG_DATA/lienthong.conf"
    as_pg tee "$conf" >/dev/null <<EOF
# Written by deploy/postgres/postgres.sh on every start; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
unix_socket_permissions = 0770
max_connections = 200
shared_buffers = 128MB
fsync = on
logging_collector = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
timezone = 'UTC'
EOF
    if ! grep -q "^include_if_exists = 'lienthong.conf'" "$PG_DATA/postgresql.conf"; then
        printf "\ninclude_if_exists = 'lienthong.conf'\n" | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
    fi
}

init_cluster() {
    local bindir="$1" pwfile
    log "creating cluster in $PG_DATA"
    pwfile="$PG_BASE/.superuser-pw"
    # Random superuser password: the superuser is only used through peer auth on
    # the unix socket; TCP clients use scram-sha-256.
    head -c 24 /dev/urandom | base64 | tr -d '\n/+=' | as_pg tee "$pwfile" >/dev/null
    as_pg chmod 600 "$pwfile"
    if ! as_pg "$bindir/initdb" -D "$PG_DATA" -U postgres --pwfile="$pwfile" -E UTF8 --no-locale \
        --auth-local=peer --auth-host=scram-sha-256 >"$PG_BASE/initdb.log" 2>&1; then
        cat "$PG_BASE/initdb.log" >&2 || true
        die "initdb failed"
    fi
}

psql_super() {
    local bindir="$1"; shift
    as_pg "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres -d postgres "$@"
}

ensure_role_and_db() {
    local bindir="$1" exists
    psql_super "$bindir" <<EOF
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER_NAME') THEN
    CREATE ROLE "$PG_USER_NAME" LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE "$PG_USER_NAME" LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END
\$\$;
EOF
    exists="$(psql_super "$bindir" -At -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'")"
    if [[ "$exists" != "1" ]]; then
        log "creating database $PG_DATABASE"
        psql_super "$bindir" -c "CREATE DATABASE \"$PG_DATABASE\" OWNER \"$PG_USER_NAME\""
    fi
}

wait_tcp_ready() {
    local bindir="$1" deadline
    deadline=$((SECONDS + PG_START_TIMEOUT))
    until "$bindir/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; do
        if (( SECONDS >= deadline )); then
            tail -n 40 "$PG_LOG" >&2 || true
            die "server does not accept TCP connections on 127.0.0.1:$PG_PORT after ${PG_START_TIMEOUT}s"
        fi
        sleep 0.5
    done
    # Final end-to-end check: password login over TCP as the application role.
    if ! PGPASSWORD="$PG_PASSWORD" "$bindir/psql" -X -q -At -h 127.0.0.1 -p "$PG_PORT" \
        -U "$PG_USER_NAME" -d "$PG_DATABASE" -c 'SELECT 1' >/dev/null; then
        die "cannot log in as $PG_USER_NAME on 127.0.0.1:$PG_PORT/$PG_DATABASE"
    fi
}

# Port 55432 lies in Linux's ephemeral range (32768-60999): an outgoing
# connection of any process may hold it as its source port (even in TIME_WAIT,
# up to 60 s after it closed) and the server then cannot bind it. When root, ask
# the kernel not to hand it out (best effort, not persistent), and wait until it
# can be bound.
reserve_port() {
    local f=/proc/sys/net/ipv4/ip_local_reserved_ports cur item lo hi
    [[ "$(id -u)" -eq 0 && -w "$f" ]] || return 0
    cur="$(cat "$f" 2>/dev/null || true)"
    for item in ${cur//,/ }; do
        lo="${item%-*}" hi="${item#*-}"
        if (( PG_PORT >= lo && PG_PORT <= hi )); then return 0; fi
    done
    if printf '%s\n' "${cur:+$cur,}$PG_PORT" >"$f" 2>/dev/null; then
        log "reserved port $PG_PORT (net.ipv4.ip_local_reserved_ports) so that no outgoing connection takes it"
    fi
}

port_bindable() {
    command -v python3 >/dev/null 2>&1 || return 0
    python3 - "$PG_PORT" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

wait_port_bindable() {
    local deadline=$((SECONDS + 75)) told=""
    if (exec 3<>"/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null; then
        die "port 127.0.0.1:$PG_PORT is already in use by another process"
    fi
    until port_bindable; do
        if [[ -z "$told" ]]; then
            log "port $PG_PORT is held by another socket (probably a closed connection in TIME_WAIT); waiting up to 75s ..."
            told=1
        fi
        (( SECONDS < deadline )) || die "port 127.0.0.1:$PG_PORT cannot be bound (in use by another process?)"
        sleep 1
    done
}

cmd_start() {
    local bindir start_t
    start_t=$SECONDS
    bindir="$(pg_bindir)"
    [[ -n "$bindir" ]] || die "PostgreSQL is not installed: run '$0 install' first"
    if [[ "$(id -u)" -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "OS user postgres is missing: run '$0 install' first"
    fi
    resolve_dirs
    if is_running "$bindir"; then
        log "already running (data: $PG_DATA, port $PG_PORT)"
    else
        mkdir -p "$PG_BASE"
        if [[ "$(id -u)" -eq 0 ]]; then chown postgres: "$PG_BASE"; fi
        chmod 700 "$PG_BASE"
        if [[ "$PG_RUN" != "$PG_BASE/"* ]]; then
            mkdir -p "$PG_RUN"
            if [[ "$(id -u)" -eq 0 ]]; then chown postgres: "$PG_RUN"; fi
        else
            as_pg mkdir -p "$PG_RUN"
        fi
        as_pg chmod 700 "$PG_RUN"
        if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
            if [[ -e "$PG_DATA" ]]; then
                log "removing incomplete cluster directory $PG_DATA"
                rm -rf "$PG_DATA"
            fi
            init_cluster "$bindir"
        fi
        write_config
        reserve_port
        wait_port_bindable
        if [[ -f "$PG_DATA/postmaster.pid" ]]; then
            log "removing stale postmaster.pid"
            as_pg rm -f "$PG_DATA/postmaster.pid"
        fi
        log "starting PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (log: $PG_LOG)"
        if ! as_pg "$bindir/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$PG_START_TIMEOUT" >/dev/null; then
            tail -n 40 "$PG_LOG" >&2 || true
            die "pg_ctl start failed (is port $PG_PORT already in use?)"
        fi
    fi
    ensure_role_and_db "$bindir"
    wait_tcp_ready "$bindir"
    log "ready in $((SECONDS - start_t))s: $(cmd_url)"
}

cmd_stop() {
    local bindir
    bindir="$(pg_bindir)"
    [[ -n "$bindir" ]] || { log "not installed; nothing to stop"; return 0; }
    resolve_dirs
    if ! is_running "$bindir"; then
        log "not running"
        return 0
    fi
    log "stopping (fast) ..."
    as_pg "$bindir/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 >/dev/null || die "pg_ctl stop failed"
    log "stopped"
}

cmd_status() {
    local bindir
    bindir="$(pg_bindir)"
    [[ -n "$bindir" ]] || { log "not installed"; return 1; }
    resolve_dirs
    if is_running "$bindir"; then
        log "running (data: $PG_DATA, port $PG_PORT)"
        return 0
    fi
    log "not running"
    return 1
}

cmd_url() {
    printf 'postgresql+asyncpg://%s:%s@127.0.0.1:%s/%s\n' "$PG_USER_NAME" "$PG_PASSWORD" "$PG_PORT" "$PG_DATABASE"
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    url) cmd_url ;;
    *) echo "usage: $0 install|start|stop|status|url" >&2; exit 2 ;;
esac
