#!/usr/bin/env bash
# What watching a node costs, vigil-server and redis-server 7.0 side by
# side: SET and GET throughput (redis-benchmark, 50 clients, -P 16) with
# nothing watching, with one `redis-cli MONITOR` reading everything, and
# with `slowlog-log-slower-than 0` (every command logged), alternating
# between the servers for several rounds, median of the rounds. Each
# server's row shows ops/s and the fraction kept against its own
# unwatched run; the last column is the Vigil/Redis ratio.
#
#   scripts/bench-introspection.sh [ROUNDS] [REQUESTS]   (defaults: 3, 1000000)
#
# Loopback only; stops only what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
REQUESTS=${2:-1000000}

source scripts/bench-lib.sh
start vigil
start redis

declare -A OPS
ops() { # name test -> ops/s
    redis-benchmark -p "${PORT[$1]}" -t "$2" -n "$REQUESTS" -c 50 -P 16 --csv -q 2>/dev/null |
        tail -n 1 | tr -d '"' | cut -d, -f2
}
measure() { # name mode
    local name=$1 mode=$2 watcher="" test
    case $mode in
    monitor)
        redis-cli -p "${PORT[$name]}" monitor >/dev/null &
        watcher=$!
        # MONITOR answers +OK once registered; give the watcher a moment
        # to connect, checked through CLIENT LIST, not a bare sleep.
        for _ in $(seq 200); do
            cli "$name" client list | grep -q "cmd=monitor" && break
            sleep 0.02
        done
        ;;
    slowlog) cli "$name" config set slowlog-log-slower-than 0 >/dev/null ;;
    esac
    for test in set get; do
        OPS["$name|$mode|$test"]+="$(ops "$name" "$test") "
    done
    case $mode in
    monitor) kill "$watcher"; wait "$watcher" 2>/dev/null || true ;;
    slowlog) cli "$name" config set slowlog-log-slower-than 10000 >/dev/null ;;
    esac
}

for round in $(seq "$ROUNDS"); do
    for mode in plain monitor slowlog; do
        if (( round % 2 )); then measure vigil $mode; measure redis $mode;
        else measure redis $mode; measure vigil $mode; fi
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "redis-benchmark -t set,get -n $REQUESTS -c 50 -P 16, $ROUNDS alternating rounds, median ops/s"
printf '%-6s %-8s %12s %7s %12s %7s %12s\n' test watch "vigil ops/s" kept "redis ops/s" kept "vigil/redis"
for test in set get; do
    vp=$(echo "${OPS["vigil|plain|$test"]}" | median)
    rp=$(echo "${OPS["redis|plain|$test"]}" | median)
    for mode in plain monitor slowlog; do
        v=$(echo "${OPS["vigil|$mode|$test"]}" | median)
        r=$(echo "${OPS["redis|$mode|$test"]}" | median)
        printf '%-6s %-8s %12.0f %7.2f %12.0f %7.2f %12.2f\n' "$test" "$mode" "$v" \
            "$(echo "$v / $vp" | bc -l)" "$r" "$(echo "$r / $rp" | bc -l)" "$(echo "$v / $r" | bc -l)"
    done
done
