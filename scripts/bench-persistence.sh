#!/usr/bin/env bash
# Persistence side by side: vigil-server and redis-server 7.0 on the same
# 1,000,000-key dataset (DEBUG POPULATE 1000000 key 16), loopback only.
#
#   scripts/bench-persistence.sh [KEYS]        (default 1000000)
#
# Reports, for each server and as a Vigil/Redis ratio:
#   SAVE time, RDB file size, restart load time (from the server's own log
#   line), BGREWRITEAOF time, `redis-benchmark -t set -P 16` throughput
#   with appendfsync everysec and always, the fork pause of a BGSAVE
#   (latest_fork_usec) and the longest PING round trip a client saw while
#   the BGSAVE ran, and the memory the snapshot child copied while a write
#   load continued (its Private_Dirty, sampled).
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=${1:-1000000}
source scripts/bench-lib.sh
info() { field "$1" persistence "$2"; }
stat_field() { field "$1" stats "$2"; }

# The longest PING round trip (ms) while the server's BGSAVE runs.
max_ping_during_bgsave() { # port
    python3 - "$1" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
def cmd(line):
    s.sendall(line.encode() + b"\r\n")
    data = b""
    while not data.endswith(b"\r\n"):
        data += s.recv(65536)
    return data
def bulk(line):
    s.sendall(line.encode() + b"\r\n")
    head = b""
    while not head.endswith(b"\r\n"):
        head += s.recv(1)
    n = int(head[1:-2]); body = b""
    while len(body) < n + 2:
        body += s.recv(n + 2 - len(body))
    return body.decode()
worst = 0.0
t0 = time.perf_counter(); cmd("BGSAVE"); worst = time.perf_counter() - t0
while "rdb_bgsave_in_progress:1" in bulk("INFO persistence"):
    t = time.perf_counter(); cmd("PING"); worst = max(worst, time.perf_counter() - t)
print(f"{worst * 1000:.2f}")
EOF
}

# Peak Private_Dirty (kB) of the server's child while a write load runs.
cow_during_bgsave() { # name
    local name=$1 port=${PORT[$1]} peak=0
    redis-benchmark -p "$port" -t set -r "$KEYS" -n 20000000 -c 20 -P 16 -q >/dev/null 2>&1 &
    local bench=$!
    sleep 0.5
    cli "$name" bgsave >/dev/null
    while [[ "$(info "$name" rdb_bgsave_in_progress)" == 1 ]]; do
        local child
        child=$(pgrep -P "${PID[$name]}" | head -1 || true)
        if [[ -n "$child" ]]; then
            local kb
            kb=$(awk '/^Private_Dirty/ {print $2}' "/proc/$child/smaps_rollup" 2>/dev/null || echo 0)
            (( kb > peak )) && peak=$kb
        fi
        sleep 0.05
    done
    kill "$bench" 2>/dev/null || true; wait "$bench" 2>/dev/null || true
    echo "$peak"
}

for name in vigil redis; do
    echo "== $name" >&2
    start "$name"
    cli "$name" debug populate "$KEYS" key 16 >/dev/null
    t=$(now); cli "$name" save >/dev/null; R[$name,save_s]=$(elapsed "$t")
    R[$name,rdb_mb]=$(echo "$(stat -c %s "$WORK/$name/dump.rdb") / 1048576" | bc -l)
    # Restart from exactly that snapshot (the write load below adds keys).
    stop "$name"
    rm -f "$WORK/$name.log"
    start "$name"
    R[$name,load_s]=$(grep -o 'DB loaded from disk: [0-9.]*' "$WORK/$name.log" | awk '{print $5}')
    R[$name,ping_ms]=$(max_ping_during_bgsave "${PORT[$name]}")
    R[$name,fork_ms]=$(echo "$(stat_field "$name" latest_fork_usec) / 1000" | bc -l)
    R[$name,cow_mb]=$(echo "$(cow_during_bgsave "$name") / 1024" | bc -l)
    # Back to the same dataset for the AOF rewrite.
    cli "$name" flushall >/dev/null
    cli "$name" debug populate "$KEYS" key 16 >/dev/null
    cli "$name" config set appendonly yes >/dev/null
    while [[ "$(info "$name" aof_rewrite_in_progress)" != 0 || "$(info "$name" aof_rewrite_scheduled)" != 0 ]]; do sleep 0.05; done
    t=$(now); cli "$name" bgrewriteaof >/dev/null
    sleep 0.05
    while [[ "$(info "$name" aof_rewrite_in_progress)" != 0 ]]; do sleep 0.01; done
    R[$name,rewrite_s]=$(elapsed "$t")
    cli "$name" flushall >/dev/null
    for policy in everysec always; do
        cli "$name" config set appendfsync "$policy" >/dev/null
        R[$name,set_$policy]=$(redis-benchmark -p "${PORT[$name]}" -t set -n 1000000 -c 50 -P 16 --csv -q 2>/dev/null |
            tail -n +2 | tr -d '"' | cut -d, -f2)
    done
    stop "$name"
done

header "$KEYS keys (DEBUG POPULATE $KEYS key 16)"
row "SAVE (s)" save_s
row "RDB size (MiB)" rdb_mb
row "restart load (s)" load_s
row "BGREWRITEAOF (s)" rewrite_s
row "set -P 16, appendfsync everysec (ops/s)" set_everysec
row "set -P 16, appendfsync always (ops/s)" set_always
row "BGSAVE fork pause (ms)" fork_ms
row "longest PING during BGSAVE (ms)" ping_ms
row "snapshot child copied under writes (MiB)" cow_mb
