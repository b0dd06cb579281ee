#!/usr/bin/env bash
# Side-by-side benchmark of vigil-server and redis-server 7.0 with
# redis-benchmark, in one run: the same tests, alternating between the two
# servers for several rounds, median of the rounds per test; then memory
# after loading 1,000,000 `SET key:N <16-byte value>`.
#
#   scripts/bench.sh [ROUNDS] [REQUESTS]       (defaults: 3 rounds, 1000000)
#   TESTS=lpush,rpush,... scripts/bench.sh      (redis-benchmark -t list;
#                                               default set,get,incr,mset)
#
# Prints a table of ops/s and the Vigil/Redis ratio for each test, unpipelined
# and with -P 16, plus each server's CPU time per request (on a 2-core
# machine the single-threaded redis-benchmark is usually the bottleneck, so
# ops/s come out equal and CPU per request is what tells the servers apart),
# and used_memory / RSS after the load. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
REQUESTS=${2:-1000000}
TESTS=${TESTS:-set,get,incr,mset}
CLIENTS=50

source scripts/bench-lib.sh
start vigil
start redis
VPORT=${PORT[vigil]}
RPORT=${PORT[redis]}
echo "vigil-server $($VIGIL --version | head -1)"
echo "redis-server $(redis-server --version)"
echo "redis-benchmark -t $TESTS -n $REQUESTS -c $CLIENTS [-P 16], $ROUNDS alternating rounds, median ops/s"
echo

declare -A RESULTS CPU
NAMES=()
TICKS=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # server port pipeline
    local server=$1 port=$2 pipe=$3 test
    redis-cli -p "$port" flushall >/dev/null
    for test in ${TESTS//,/ }; do
        local before after
        before=$(cpu_ticks "${PID[$server]}")
        redis-benchmark -p "$port" -t "$test" -n "$REQUESTS" -c "$CLIENTS" -P "$pipe" --csv -q 2>/dev/null |
            tail -n +2 | tr -d '"' | while IFS=, read -r name rps _; do echo "$name,$rps"; done >"$WORK/out"
        after=$(cpu_ticks "${PID[$server]}")
        while IFS=, read -r name rps; do
            [[ " ${NAMES[*]} " == *" ${name// /~} "* ]] || NAMES+=("${name// /~}")
            RESULTS["$server|$pipe|$name"]+="$rps "
            CPU["$server|$pipe|$name"]+="$(echo "($after - $before) * 1000000 / $TICKS / $REQUESTS" | bc -l) "
        done <"$WORK/out"
    done
}

for pipe in 1 16; do
    for round in $(seq "$ROUNDS"); do
        if (( round % 2 )); then run vigil "$VPORT" "$pipe"; run redis "$RPORT" "$pipe";
        else run redis "$RPORT" "$pipe"; run vigil "$VPORT" "$pipe"; fi
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
printf '%-34s %-6s %12s %12s %7s %14s %14s\n' test pipe "vigil ops/s" "redis ops/s" ratio "vigil cpu µs/op" "redis cpu µs/op"
for pipe in 1 16; do
    for name in "${NAMES[@]}"; do
        test=${name//~/ }
        v=$(echo "${RESULTS["vigil|$pipe|$test"]:-}" | median)
        r=$(echo "${RESULTS["redis|$pipe|$test"]:-}" | median)
        vc=$(echo "${CPU["vigil|$pipe|$test"]:-}" | median)
        rc=$(echo "${CPU["redis|$pipe|$test"]:-}" | median)
        printf '%-34s %-6s %12.0f %12.0f %7.2f %14.2f %14.2f\n' "$test" "-P $pipe" "$v" "$r" "$(echo "$v / $r" | bc -l)" "$vc" "$rc"
    done
done

echo
echo "memory after 1,000,000 SET key:N <16-byte value> (same input, redis-cli --pipe)"
python3 - "$WORK/load.resp" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    for i in range(1_000_000):
        k = b"key:%d" % i
        f.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n%016d\r\n" % (len(k), k, i))
PY
field() { redis-cli -p "$1" info memory | tr -d '\r' | grep "^$2:" | cut -d: -f2; }
printf '%-10s %14s %14s\n' server used_memory rss
declare -A MEM
for server in vigil redis; do
    port=$VPORT; [ $server = redis ] && port=$RPORT
    redis-cli -p "$port" flushall >/dev/null
    redis-cli -p "$port" --pipe <"$WORK/load.resp" >/dev/null
    [ "$(redis-cli -p "$port" dbsize)" = 1000000 ] || { echo "$server did not load every key" >&2; exit 1; }
    MEM[$server.used]=$(field "$port" used_memory)
    MEM[$server.rss]=$(field "$port" used_memory_rss)
    printf '%-10s %14s %14s\n' "$server" "${MEM[$server.used]}" "${MEM[$server.rss]}"
done
printf '%-10s %14.2f %14.2f\n' ratio "$(echo "${MEM[vigil.used]} / ${MEM[redis.used]}" | bc -l)" \
    "$(echo "${MEM[vigil.rss]} / ${MEM[redis.rss]}" | bc -l)"
