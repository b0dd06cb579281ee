#!/usr/bin/env bash
# Replication side by side: vigil-server and redis-server 7.0, each
# replicating to a fresh replica of its own kind, loopback only.
#
#   scripts/bench-replication.sh [KEYS]        (default 1000000)
#
# Reports, for each server and as a Vigil/Redis ratio:
#   full sync of KEYS keys (DEBUG POPULATE KEYS key 16) to a fresh replica,
#   diskless (repl-diskless-sync yes, delay 0) and from disk: the time from
#   REPLICAOF until master_link_status:up with every key loaded;
#   `redis-benchmark -t set -P 16` on the master with the replica attached:
#   the master's throughput, the largest replication lag seen (master offset
#   minus the replica's, sampled every 50 ms, in KiB) and how long the
#   replica took to catch up once the load stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=${1:-1000000}
source scripts/bench-lib.sh
repl() { field "$1" replication "$2"; }

# Seconds from REPLICAOF until the replica is up with all keys.
full_sync() { # master replica
    local t; t=$(now)
    cli "$2" replicaof 127.0.0.1 "${PORT[$1]}" >/dev/null
    until [[ "$(repl "$2" master_link_status)" == up && "$(cli "$2" dbsize)" == "$KEYS" ]]; do
        sleep 0.01
    done
    elapsed "$t"
}

# Largest master_repl_offset minus the replica's while process PID runs,
# in KiB, sampled every 50 ms over open connections (the replica is read
# first, so the figure includes the few microseconds between the reads).
max_lag_kib() { # replica-port master-port pid
    python3 - "$@" <<'PY'
import os, socket, sys, time
def conn(port):
    return socket.create_connection(("127.0.0.1", int(port)))
def offset(s):
    s.sendall(b"INFO replication\r\n")
    data = b""
    while True:
        data += s.recv(65536)
        head, _, rest = data.partition(b"\r\n")
        if head and len(rest) >= int(head[1:]) + 2:
            break
    for line in rest.split(b"\r\n"):
        if line.startswith(b"master_repl_offset:"):
            return int(line.split(b":")[1])
replica, master, pid = conn(sys.argv[1]), conn(sys.argv[2]), int(sys.argv[3])
worst = 0
while os.path.exists(f"/proc/{pid}"):
    r = offset(replica); m = offset(master)
    worst = max(worst, m - r)
    time.sleep(0.05)
print(f"{worst / 1024:.2f}")
PY
}

for kind in vigil redis; do
    echo "== $kind" >&2
    start "$kind-master" --repl-diskless-sync yes --repl-diskless-sync-delay 0
    cli "$kind-master" debug populate "$KEYS" key 16 >/dev/null
    start "$kind-replica"
    R[$kind,diskless_s]=$(full_sync "$kind-master" "$kind-replica")
    stop "$kind-replica"
    cli "$kind-master" config set repl-diskless-sync no >/dev/null
    start "$kind-disk"
    R[$kind,disk_s]=$(full_sync "$kind-master" "$kind-disk")

    redis-benchmark -p "${PORT[$kind-master]}" -t set -r "$KEYS" -n 3000000 -c 50 -P 16 --csv -q \
        >"$WORK/$kind.bench" 2>/dev/null &
    bench=$!
    R[$kind,lag_kb]=$(max_lag_kib "${PORT[$kind-disk]}" "${PORT[$kind-master]}" "$bench")
    wait "$bench" || true
    t=$(now)
    until [[ "$(repl "$kind-master" master_repl_offset)" == "$(repl "$kind-disk" master_repl_offset)" ]]; do
        sleep 0.01
    done
    R[$kind,catchup_s]=$(elapsed "$t")
    R[$kind,set_ops]=$(tail -n +2 "$WORK/$kind.bench" | tr -d '"' | cut -d, -f2)
    stop "$kind-disk"
    stop "$kind-master"
done

header "$KEYS keys (DEBUG POPULATE $KEYS key 16), replica of the same kind"
row "full sync, diskless (s)" diskless_s
row "full sync, from disk (s)" disk_s
row "set -P 16 on the master, replica attached (ops/s)" set_ops
row "largest replication lag seen (KiB)" lag_kb
row "replica caught up after the load (s)" catchup_s
