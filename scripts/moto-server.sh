#!/usr/bin/env bash
# A loopback AWS API (moto) for the screener-aws integration tests.
#
#   bash scripts/moto-server.sh start    # venv + moto, start on a free port, print the export line
#   bash scripts/moto-server.sh stop     # stop the server this script started
#   bash scripts/moto-server.sh status   # say whether it runs, and where
#
# `start` writes the endpoint URL to target/moto-endpoint and prints
#   export SCREENER_TEST_AWS_ENDPOINT=http://127.0.0.1:PORT
# so a caller can do:
#   bash scripts/moto-server.sh start
#   SCREENER_TEST_AWS_ENDPOINT=$(cat target/moto-endpoint) cargo test -p screener-aws
#   bash scripts/moto-server.sh stop
#
# Environment:
#   SCREENER_VENV   the virtualenv to create/use (default: .venv at the repository top)
#   MOTO_SPEC       what pip installs (default: 'moto[server]>=5.1,<6')
#   MOTO_PORT       a fixed port instead of a free one
set -euo pipefail

top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SCREENER_VENV:-$top/.venv}"
spec="${MOTO_SPEC:-moto[server]>=5.1,<6}"
state="$top/target"
pid_file="$state/moto-server.pid"
endpoint_file="$state/moto-endpoint"
log_file="$state/moto-server.log"

say() { echo "moto-server: $*" >&2; }

running_pid() {
    [[ -f "$pid_file" ]] || return 1
    local pid
    pid="$(cat "$pid_file")"
    # Only a live moto_server: never a process that reused a stale pid.
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
        && ps -p "$pid" -o args= 2>/dev/null | grep -q moto_server && echo "$pid"
}

ensure_venv() {
    if [[ ! -x "$venv/bin/python" ]]; then
        say "creating the virtualenv $venv"
        python3 -m venv "$venv"
    fi
    if [[ ! -x "$venv/bin/moto_server" ]]; then
        say "installing $spec into $venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec"
    fi
}

free_port() {
    "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Succeeds once the server answers HTTP on its own API path.
answers() {
    "$venv/bin/python" - "$1" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1).read()
except Exception:
    sys.exit(1)
PY
}

start() {
    mkdir -p "$state"
    if pid="$(running_pid)" && [[ -f "$endpoint_file" ]] && answers "$(cat "$endpoint_file")"; then
        say "already running (pid $pid)"
        echo "export SCREENER_TEST_AWS_ENDPOINT=$(cat "$endpoint_file")"
        return 0
    fi
    ensure_venv
    local port="${MOTO_PORT:-$(free_port)}"
    local url="http://127.0.0.1:$port"
    # setsid: its own process group, so `stop` can end it and any workers it spawns, and
    # nothing else.
    setsid "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log_file" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$pid_file"
    for _ in $(seq 1 100); do
        if answers "$url"; then
            echo "$url" >"$endpoint_file"
            say "listening on $url (pid $pid, log $log_file)"
            echo "export SCREENER_TEST_AWS_ENDPOINT=$url"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            say "moto_server exited during start-up; its log:"
            cat "$log_file" >&2
            rm -f "$pid_file"
            return 1
        fi
        sleep 0.2
    done
    say "moto_server did not answer on $url within 20 s; stopping it. Its log:"
    cat "$log_file" >&2
    stop
    return 1
}

stop() {
    if pid="$(running_pid)"; then
        kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        say "stopped (pid $pid)"
    else
        say "not running"
    fi
    rm -f "$pid_file" "$endpoint_file"
}

status() {
    if pid="$(running_pid)" && [[ -f "$endpoint_file" ]]; then
        say "running (pid $pid) on $(cat "$endpoint_file")"
    else
        say "not running"
        return 1
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
