#!/usr/bin/env bash
# scripts/demo.sh: the main job. One command starts a local high-availability
# deployment on 127.0.0.1 (three vigil-server nodes, one master and two
# replicas, and three vigil-sentinel monitors from sentinel.yaml), shows you
# how to kill the master, and streams the monitors' events while they fail
# over.
#
#   scripts/demo.sh [--ports BASE] [--data DIR]
#
# What it owns:
#   - the processes it starts: the six daemons and one streaming subshell per
#     monitor. It knows each by PID, stops each by PID (SIGTERM, then SIGKILL
#     after 10 s) on Ctrl-C, SIGTERM, or any failure while starting, and waits
#     for them. It never signals anything else, not even a node you restart
#     by hand from the printed command (that one is yours to stop);
#   - the data directory (default demo-data/ at the repository root):
#       node-N/      a node's dir: dump.rdb, appendonlydir/, node.log
#       monitor-N/   a monitor's state dir: vigil-sentinel.state, monitor.log
#       demo.state   the ports of this data and which node is the master
#       sentinel.yaml  only with --ports: sentinel.yaml with the master's port changed
#     It is kept when the demo stops, so the next run restarts on the same
#     data (the nodes load their AOF, the monitors their state).
# It needs bash 4.3+ and, unless VIGIL_BIN_DIR names a directory holding
# vigil-server and vigil-sentinel, cargo to build them. It does not need
# redis-cli: it speaks RESP itself through bash's /dev/tcp.
# shellcheck disable=SC2317 # cleanup, stop and on_signal run from traps
set -euo pipefail
# Byte semantics for ${#s} and `read -N` (RESP lengths count bytes).
export LC_ALL=C

if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 3))); then
    echo "demo.sh needs bash 4.3 or newer (this is $BASH_VERSION)" >&2
    exit 1
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAME=mymaster # the master's name in sentinel.yaml
BASE=6379
DATA=$ROOT/demo-data

usage() {
    cat <<EOF
Usage: scripts/demo.sh [--ports BASE] [--data DIR]

Starts three vigil-server nodes (a master and two replicas) and three
vigil-sentinel monitors on 127.0.0.1, prints what runs and what to try,
then streams the monitors' events until Ctrl-C, which stops everything it
started and keeps the data for the next run.

  --ports BASE  nodes on BASE, BASE+1, BASE+2, monitors on BASE+20000..+2
                (default 6379: nodes 6379-6381, monitors 26379-26381)
  --data DIR    where the nodes and monitors keep their files
                (default: demo-data/ at the repository root)

Environment: VIGIL_BIN_DIR=DIR uses the vigil-server and vigil-sentinel
found in DIR instead of building them with cargo (release profile).
EOF
}

die() {
    echo "demo.sh: $*" >&2
    exit 1
}

while (($#)); do
    case $1 in
    --ports)
        (($# >= 2)) || die "--ports needs a port number (see --help)"
        BASE=$2
        shift 2
        ;;
    --ports=*)
        BASE=${1#--ports=}
        shift
        ;;
    --data)
        (($# >= 2)) || die "--data needs a directory (see --help)"
        DATA=$2
        shift 2
        ;;
    --data=*)
        DATA=${1#--data=}
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
if ! [[ $BASE =~ ^[0-9]{1,5}$ ]] || ((10#$BASE < 1024 || 10#$BASE + 20002 > 65535)); then
    die "--ports $BASE: give a number from 1024 to 45533 (the monitors use BASE+20000..BASE+20002)"
fi
BASE=$((10#$BASE))
NODE_PORTS=("$BASE" "$((BASE + 1))" "$((BASE + 2))")
MONITOR_PORTS=("$((BASE + 20000))" "$((BASE + 20001))" "$((BASE + 20002))")

# ---------------------------------------------------------------------------
# RESP over /dev/tcp: enough of a client to see that things answer, without
# redis-cli.

# resp_read FD: print one reply's scalars, one per line (an error as
# "-ERR ..."; a null prints nothing). Fails on a timeout or a closed link.
resp_read() {
    local fd=$1 line n i
    IFS= read -r -t 2 line <&"$fd" || return 1
    line=${line%$'\r'}
    case $line in
    '$-1' | '*-1') ;;
    [-+:]*) printf '%s\n' "${line#[+:]}" ;;
    '$'*)
        n=${line#\$}
        IFS= read -r -t 2 -N "$((n + 2))" line <&"$fd" || return 1
        printf '%s\n' "${line%$'\r\n'}"
        ;;
    '*'*)
        n=${line#\*}
        for ((i = 0; i < n; i++)); do resp_read "$fd" || return 1; done
        ;;
    *) return 1 ;;
    esac
}

# resp PORT ARG...: send one command to 127.0.0.1:PORT, print its reply.
resp() {
    local port=$1 fd req a
    shift
    req="*$#"$'\r\n'
    for a in "$@"; do req+="\$${#a}"$'\r\n'"$a"$'\r\n'; done
    { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
    printf '%s' "$req" 1>&"$fd" 2>/dev/null || {
        exec {fd}>&-
        return 1
    }
    resp_read "$fd"
    local rc=$?
    exec {fd}>&-
    return "$rc"
}

# field NAME: the value after NAME in a flat field/value reply on stdin.
field() { awk -v k="$1" 'prev == k { print; exit } { prev = $0 }'; }

# info_field NAME: a field of an INFO reply on stdin.
info_field() { awk -F: -v k="$1" '$1 == k { sub(/\r$/, "", $2); print $2; exit }'; }

port_in_use() { { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null && exec 3>&-; }

# ---------------------------------------------------------------------------
# Before anything starts: every port free (checked again after the build,
# which can take minutes).

check_ports() {
    local busy=() i
    for i in 0 1 2; do
        port_in_use "${NODE_PORTS[i]}" && busy+=("${NODE_PORTS[i]} (node-$((i + 1)))")
        port_in_use "${MONITOR_PORTS[i]}" && busy+=("${MONITOR_PORTS[i]} (monitor-$((i + 1)))")
    done
    ((${#busy[@]} == 0)) && return 0
    {
        echo "demo.sh: port already in use on 127.0.0.1: ${busy[*]}"
        echo "Nothing was started. Another demo or Redis may be running there: stop it, or"
        echo "choose other ports with --ports BASE (nodes BASE..BASE+2, monitors BASE+20000..BASE+20002),"
        echo "for example: scripts/demo.sh --ports 7379"
    } >&2
    exit 1
}
check_ports

# The data directory remembers its ports: a node's replicaof and the
# monitors' learnt addresses name them, so other ports need other data.
STATE_FILE=$DATA/demo.state
MASTER=1 # 1-based index of the node started as master
if [[ -f $STATE_FILE ]]; then
    saved_base='' saved_master=''
    while IFS='=' read -r key value; do
        case $key in
        base_port) saved_base=$value ;;
        master) saved_master=$value ;;
        esac
    done <"$STATE_FILE"
    [[ $saved_base == "$BASE" ]] ||
        die "$DATA holds a demo on ports from ${saved_base:-?}; run with --ports ${saved_base:-?}, or give another --data DIR (or remove $DATA)"
    [[ $saved_master =~ ^[123]$ ]] && MASTER=$saved_master
fi

# ---------------------------------------------------------------------------
# The binaries: VIGIL_BIN_DIR's, or a release build.

if [[ -n ${VIGIL_BIN_DIR:-} ]]; then
    BIN=$VIGIL_BIN_DIR
    [[ -x $BIN/vigil-server && -x $BIN/vigil-sentinel ]] ||
        die "VIGIL_BIN_DIR=$BIN does not hold vigil-server and vigil-sentinel; unset it to build them"
else
    command -v cargo >/dev/null ||
        die "cargo is needed to build Vigil: install Rust (https://rustup.rs), or set VIGIL_BIN_DIR"
    echo "Building vigil-server and vigil-sentinel (cargo build --release)..."
    (cd "$ROOT" && cargo build --release --bin vigil-server --bin vigil-sentinel)
    # Where cargo put them: CARGO_TARGET_DIR or a config can move target/.
    target=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    BIN=${target:-$ROOT/target}/release
fi
BIN=$(cd "$BIN" && pwd)
SERVER=$BIN/vigil-server
SENTINEL=$BIN/vigil-sentinel
check_ports

mkdir -p "$DATA"
DATA=$(cd "$DATA" && pwd)
STATE_FILE=$DATA/demo.state

# The monitors' YAML: the repository's, unless the master is not on 6379.
# vigil-sentinel overrides only its own --port/--dir/--bind on the command
# line, so for other ports a copy with the master's port changed is written
# (every other line kept as it is).
YAML=$ROOT/sentinel.yaml
[[ -f $YAML ]] || die "$YAML is missing"
MASTER_PORT=${NODE_PORTS[MASTER - 1]}
YAML_NOTE=
if ((BASE != 6379)); then
    derived=$DATA/sentinel.yaml
    # The first indented `port:` after `masters:` is the master's port.
    awk -v port="$BASE" '
        /^masters:/ { in_masters = 1 }
        in_masters && !done && /^[[:space:]]+port:[[:space:]]*[0-9]+/ {
            sub(/port:[[:space:]]*[0-9]+/, "port: " port); done = 1
        }
        { print }
        END { if (!done) exit 1 }
    ' "$YAML" >"$derived.tmp" || die "cannot find the master's port in $YAML"
    mv "$derived.tmp" "$derived"
    YAML=$derived
    YAML_NOTE="(sentinel.yaml with the master's port changed to $BASE)"
fi

# ---------------------------------------------------------------------------
# Processes, and stopping them in every exit path.

PIDS=()     # every process started, in start order
STREAMS=()  # the monitors' streaming subshells
FIFO_DIR=

# stop PID...: SIGTERM each that is still our running child, wait up to
# 10 s, then SIGKILL what is left, and reap everything. `jobs -rp` lists
# only our children still running, so a PID reused by another process
# after ours died is never signalled.
stop() {
    local running pid deadline left
    running=" $(jobs -rp | tr '\n' ' ') "
    for pid in "$@"; do
        if [[ $running == *" $pid "* ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    deadline=$((SECONDS + 10))
    while :; do
        running=" $(jobs -rp | tr '\n' ' ') "
        left=()
        for pid in "$@"; do [[ $running == *" $pid "* ]] && left+=("$pid"); done
        ((${#left[@]} == 0)) && break
        if ((SECONDS >= deadline)); then
            echo "demo.sh: still running after 10 s, killing: ${left[*]}" >&2
            kill -KILL "${left[@]}" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

CLEANED=
cleanup() {
    [[ -n $CLEANED ]] && return
    CLEANED=1
    # Monitors first, so they do not see the nodes go and start a failover;
    # then the nodes; the streams end once their monitor closed its output.
    local daemons=() pid
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
        [[ " ${STREAMS[*]+"${STREAMS[*]}"} " == *" $pid "* ]] || daemons+=("$pid")
    done
    if ((${#daemons[@]})); then
        stop "${daemons[@]:3}"
        stop "${daemons[@]:0:3}"
    fi
    ((${#STREAMS[@]})) && stop "${STREAMS[@]}"
    [[ -n $FIFO_DIR ]] && rm -rf "$FIFO_DIR"
    return 0
}
trap cleanup EXIT

on_signal() {
    trap '' INT TERM HUP
    echo
    echo "Stopping the demo (the data stays in $DATA)..."
    cleanup
    echo "Stopped."
    exit 0
}
# HUP too: a closed terminal must not leave the daemons running.
trap on_signal INT TERM HUP

# ---------------------------------------------------------------------------
# Start the nodes: the master, then its replicas, each in its own dir with
# RDB (default save points) and AOF on.

node_args() { # node_args INDEX: the command line of node INDEX, into ARGS
    local i=$1 dir=$DATA/node-$1
    ARGS=("$SERVER" --port "${NODE_PORTS[i - 1]}" --bind 127.0.0.1 --dir "$dir"
        --appendonly yes --logfile "$dir/node.log")
    ((i == MASTER)) || ARGS+=(--replicaof 127.0.0.1 "$MASTER_PORT")
}

declare -a ROLE PORT PID DIR LOG
start() { # start ROLE PORT DIR LOG COMMAND...: run it in the background
    local role=$1 port=$2 dir=$3 log=$4
    shift 4
    mkdir -p "$dir"
    # stdin from /dev/null: Ctrl-C and the terminal stay with this script.
    "$@" </dev/null >>"$log" 2>&1 &
    PIDS+=("$!")
    ROLE+=("$role") PORT+=("$port") PID+=("$!") DIR+=("$dir") LOG+=("$log")
}

for i in 1 2 3; do
    node_args "$i"
    role=replica
    ((i == MASTER)) && role=master && MASTER_ARGS=("${ARGS[@]}")
    start "$role" "${NODE_PORTS[i - 1]}" "$DATA/node-$i" "$DATA/node-$i/node.log" "${ARGS[@]}"
done
MASTER_PID=${PID[MASTER - 1]}

# Start the monitors. Each writes its log through a FIFO to a subshell that
# appends it to monitor.log and prints it prefixed with the monitor's name,
# so all six are direct children whose PIDs this script knows.
FIFO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vigil-demo.XXXXXX")

# stream NAME FIFO LOG: copy FIFO to LOG and to the terminal, prefixed.
# A +switch-master line also records the new master in demo.state, so the
# next run starts each node in the role it has now.
stream() {
    local name=$1 fifo=$2 log=$3 line payload rest new_port tmp
    # Ctrl-C reaches the whole terminal group: keep copying until the
    # monitor has said goodbye and closed its end.
    trap '' INT
    exec 4>>"$log"
    while IFS= read -r line || [[ -n $line ]]; do
        printf '[%s] %s\n' "$name" "$line" || true
        printf '%s\n' "$line" >&4
        if [[ $line == *"+switch-master $NAME "* ]]; then
            payload=${line#*+switch-master "$NAME" }
            read -r _ _ _ new_port rest <<<"$payload" || true
            if [[ $new_port =~ ^[0-9]+$ ]] && ((new_port >= BASE && new_port <= BASE + 2)); then
                tmp=$STATE_FILE.$BASHPID
                printf 'base_port=%s\nmaster=%s\n' "$BASE" "$((new_port - BASE + 1))" >"$tmp"
                mv -f "$tmp" "$STATE_FILE"
            fi
        fi
    done <"$fifo"
}

printf 'base_port=%s\nmaster=%s\n' "$BASE" "$MASTER" >"$STATE_FILE"
for i in 1 2 3; do
    name=monitor-$i dir=$DATA/monitor-$i fifo=$FIFO_DIR/monitor-$i
    mkdir -p "$dir"
    mkfifo "$fifo"
    stream "$name" "$fifo" "$dir/monitor.log" &
    PIDS+=("$!")
    STREAMS+=("$!")
    "$SENTINEL" --config "$YAML" --port "${MONITOR_PORTS[i - 1]}" --dir "$dir" </dev/null >"$fifo" 2>&1 &
    PIDS+=("$!")
    ROLE+=(monitor) PORT+=("${MONITOR_PORTS[i - 1]}") PID+=("$!") DIR+=("$dir") LOG+=("$dir/monitor.log")
done

# ---------------------------------------------------------------------------
# Wait until everything answers: nodes PONG, replicas in sync with the
# master, and every monitor reports the master with both replicas and both
# other monitors (so a kill right away is failed over).

# not_ready: print what is still missing (nothing once all is up).
not_ready() {
    local i port info reply
    for i in 0 1 2 3 4 5; do
        kill -0 "${PID[i]}" 2>/dev/null || {
            echo "the ${ROLE[i]} on port ${PORT[i]} exited: see ${LOG[i]}"
            return
        }
    done
    for i in 0 1 2; do
        port=${NODE_PORTS[i]}
        [[ $(resp "$port" PING 2>/dev/null) == PONG ]] || {
            echo "node on $port does not answer yet"
            return
        }
        ((i + 1 == MASTER)) && continue
        info=$(resp "$port" INFO replication 2>/dev/null) || info=
        [[ $(info_field master_link_status <<<"$info") == up ]] || {
            echo "replica on $port is not in sync with the master yet"
            return
        }
    done
    for port in "${MONITOR_PORTS[@]}"; do
        reply=$(resp "$port" SENTINEL get-master-addr-by-name "$NAME" 2>/dev/null | tr '\n' ' ') || reply=
        [[ $reply == "127.0.0.1 $MASTER_PORT " ]] || {
            echo "monitor on $port reports the master at '${reply% }', expected 127.0.0.1 $MASTER_PORT"
            return
        }
        reply=$(resp "$port" SENTINEL MASTER "$NAME" 2>/dev/null) || reply=
        [[ $(field num-slaves <<<"$reply") == 2 && $(field num-other-sentinels <<<"$reply") == 2 ]] || {
            echo "monitor on $port has not found both replicas and both other monitors yet"
            return
        }
    done
    return 0
}

echo "Starting 3 nodes on ports ${NODE_PORTS[*]} and 3 monitors on ports ${MONITOR_PORTS[*]}, data in $DATA"
[[ -n $YAML_NOTE ]] && echo "Monitors configured from $YAML $YAML_NOTE"
deadline=$((SECONDS + 60))
while missing=$(not_ready) && [[ -n $missing ]]; do
    if [[ $missing == *exited* ]] || ((SECONDS >= deadline)); then
        echo "demo.sh: not ready: $missing" >&2
        exit 1
    fi
    sleep 0.2
done

# ---------------------------------------------------------------------------
# What runs, and what to try.

q() { printf '%q ' "$@" | sed 's/ $//'; }
M=$MASTER_PORT S=${MONITOR_PORTS[0]}
echo
echo "Vigil demo is ready: 3 nodes, 3 monitors (the monitors' events follow below)."
printf '  %-8s %-6s %-8s %-40s %s\n' role port pid data log
for i in 0 1 2 3 4 5; do
    printf '  %-8s %-6s %-8s %-40s %s\n' "${ROLE[i]}" "${PORT[i]}" "${PID[i]}" "${DIR[i]}" "${LOG[i]}"
done
cat <<EOF

Try it (redis-cli comes with Redis; the demo itself does not need it):
  redis-cli -p $S SENTINEL get-master-addr-by-name $NAME
  redis-cli -p $M INFO replication
  redis-cli -p $M SET hello world
Kill the master, and watch the monitors fail over (+sdown, +odown, +switch-master):
  kill -9 $MASTER_PID
Then restart the old master on its data, in another terminal; the monitors turn
it into a replica of the new master (+convert-to-slave). It is yours to stop:
  $(q "${MASTER_ARGS[@]}")
Ctrl-C stops everything this script started; the data stays for the next run.

EOF

# Stream until a signal. `wait -n` keeps this shell waiting, where traps run
# at once; when it returns, one of the children ended (the master you
# killed, say): say which, and go on while the monitors' streams run.
# (Its stderr is silenced: bash would print "line N: PID Killed ...".)
ALIVE=("${PID[@]}")
while :; do
    wait -n 2>/dev/null || true
    running=" $(jobs -rp | tr '\n' ' ') "
    for i in 0 1 2 3 4 5; do
        [[ -n ${ALIVE[i]} && $running != *" ${ALIVE[i]} "* ]] || continue
        echo "[demo] the ${ROLE[i]} on port ${PORT[i]} (pid ${PID[i]}) has exited; its log: ${LOG[i]}"
        ALIVE[i]=
    done
    streams=0
    for pid in "${STREAMS[@]}"; do [[ $running == *" $pid "* ]] && streams=$((streams + 1)); done
    ((streams > 0)) || break
done
echo "demo.sh: the monitors stopped; stopping the rest" >&2
exit 1
