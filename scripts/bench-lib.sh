# Shared by the side-by-side benchmark scripts (sourced, not run): builds
# vigil-server, starts servers on free loopback ports in a scratch
# directory, and prints result rows with the Vigil/Redis ratio.
#
# Servers are named KIND or KIND-ROLE (vigil, redis-replica, ...); KIND picks
# the binary. Results go in R[KIND,key].

for tool in redis-server redis-benchmark redis-cli python3 bc; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
cargo build --release --quiet --bin vigil-server
VIGIL=${CARGO_TARGET_DIR:-$PWD/target}/release/vigil-server

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

declare -A BIN PORT PID R
BIN[vigil]=$VIGIL
BIN[redis]=redis-server

start() { # name [args...]
    local name=$1; shift
    local port; port=$(free_port)
    mkdir -p "$WORK/$name"
    "${BIN[${name%%-*}]}" --port "$port" --bind 127.0.0.1 --save "" --dir "$WORK/$name" \
        --logfile "$WORK/$name.log" --enable-debug-command yes "$@" &
    PID[$name]=$!
    PIDS+=($!)
    PORT[$name]=$port
    for _ in $(seq 2000); do
        [[ "$(redis-cli -p "$port" ping 2>/dev/null)" == PONG ]] && return
        sleep 0.05
    done
    echo "$name did not start" >&2; exit 1
}
stop() { # name
    redis-cli -p "${PORT[$1]}" shutdown nosave >/dev/null 2>&1 || true
    wait "${PID[$1]}" 2>/dev/null || true
}
cli() { local name=$1; shift; redis-cli -p "${PORT[$name]}" "$@"; }
field() { # name section field
    cli "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1==f {print $2}'
}
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l; }

row() { # label key
    local v=${R[vigil,$2]} r=${R[redis,$2]}
    local ratio=n/a
    [[ "$(echo "$r > 0" | bc -l)" == 1 ]] && ratio=$(printf "%.2f" "$(echo "$v / $r" | bc -l)")
    printf "%-44s %12.2f %12.2f %8s\n" "$1" "$v" "$r" "$ratio"
}
header() { # title
    echo
    echo "$1; vigil-server vs redis-server $(redis-server --version | grep -o 'v=[0-9.]*')"
    printf "%-44s %12s %12s %8s\n" "" vigil redis ratio
}
