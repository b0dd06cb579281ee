#!/usr/bin/env bash
# maxmemory under a write flood, vigil-server vs redis-server 7.0 side by
# side: each started with --maxmemory 100mb --maxmemory-policy allkeys-lru,
# then flooded with
#
#   redis-benchmark -t set -r 10000000 -d 100 -n 3000000 -P 16 -q
#
# (about 3 GB of writes into a 100 MB limit). Reported for each: INFO
# used_memory and used_memory_peak, RSS (VmRSS) and peak RSS (VmHWM) from
# /proc/PID/status, DBSIZE, evicted_keys, total_eviction_exceeded_time, and
# the flood's throughput. Loopback only.
#
#   scripts/bench-eviction.sh [REQUESTS] [MAXMEMORY]   (defaults: 3000000 100mb)
#   POLICY=allkeys-random scripts/bench-eviction.sh
#
# Measured 2026-11-24 (2 cores, release build, defaults), after strings
# longer than embstr became one exact-size allocation:
#                                       vigil        redis
#   flood ops/s                     452611.07    436815.58
#   used_memory (MB)                    99.52        98.98
#   RSS, VmRSS (MB)                    106.85       114.18
#   peak RSS, VmHWM (MB)               110.60       114.18
#   dbsize (keys)                      541561       513414
#   evicted_keys                      2311134      2346332
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${1:-3000000}
MAXMEMORY=${2:-100mb}
POLICY=${POLICY:-allkeys-lru}

source scripts/bench-lib.sh
start vigil --maxmemory "$MAXMEMORY" --maxmemory-policy "$POLICY"
start redis --maxmemory "$MAXMEMORY" --maxmemory-policy "$POLICY"

MB=1048576
proc_kb() { awk -v f="$2:" '$1==f {print $2}' "/proc/$1/status"; }
for server in vigil redis; do
    port=${PORT[$server]}
    t0=$(now)
    redis-benchmark -p "$port" -t set -r 10000000 -d 100 -n "$REQUESTS" -P 16 -q >/dev/null
    secs=$(elapsed "$t0")
    R[$server,ops]=$(echo "$REQUESTS / $secs" | bc -l)
    R[$server,maxmemory]=$(echo "$(field "$server" memory maxmemory) / $MB" | bc -l)
    R[$server,used]=$(echo "$(field "$server" memory used_memory) / $MB" | bc -l)
    R[$server,peak]=$(echo "$(field "$server" memory used_memory_peak) / $MB" | bc -l)
    R[$server,dataset]=$(echo "$(field "$server" memory used_memory_dataset) / $MB" | bc -l)
    R[$server,rss]=$(echo "$(proc_kb "${PID[$server]}" VmRSS) / 1024" | bc -l)
    R[$server,hwm]=$(echo "$(proc_kb "${PID[$server]}" VmHWM) / 1024" | bc -l)
    R[$server,dbsize]=$(cli "$server" dbsize)
    R[$server,evicted]=$(field "$server" stats evicted_keys)
    R[$server,exceeded]=$(field "$server" stats total_eviction_exceeded_time)
done

header "redis-benchmark -t set -r 10000000 -d 100 -n $REQUESTS -P 16 into --maxmemory $MAXMEMORY --maxmemory-policy $POLICY"
row "flood ops/s" ops
row "maxmemory (MB)" maxmemory
row "used_memory (MB)" used
row "used_memory_peak (MB)" peak
row "used_memory_dataset (MB)" dataset
row "RSS, VmRSS (MB)" rss
row "peak RSS, VmHWM (MB)" hwm
row "dbsize (keys)" dbsize
row "evicted_keys" evicted
row "total_eviction_exceeded_time (ms)" exceeded
