#!/usr/bin/env bash
# netem.sh - a real network path with the conditions of the ECSpec channel
# emulator (src/spec/channel.c): delay, jitter, rate and loss, applied with
# tc netem on a veth pair between two network namespaces.
#
#   edge namespace  hf-edge   10.77.0.1/24  --veth--  10.77.0.2/24  hf-cloud  cloud namespace
#
# The RTT is split in two: each side's egress gets rtt/2 (+- jitter/2 is not
# used: each side gets the full jitter on its one-way delay, like the emulator),
# the rate limit and the loss probability. Addresses live only inside the two
# namespaces; the host's interfaces and routes are never touched. Every exit
# path (normal, error, Ctrl-C) deletes both namespaces, which removes the veth.
#
# Usage (root):
#   scripts/netem.sh run [--rtt 50ms] [--jitter 0ms] [--rate 10mbit] [--loss 0] \
#        --cloud 'CMD started in hf-cloud (e.g. a server on 10.77.0.2)' \
#        [--wait-port 8080] --edge 'CMD run in hf-edge (e.g. hybridflow spec ... --target http://10.77.0.2:8080/v1#m)'
#   scripts/netem.sh up   [--rtt ...]   # only create the path (prints how to use it)
#   scripts/netem.sh down               # remove it
#   scripts/netem.sh selftest           # ping across the path and report the measured RTT
#
# loss is a probability in [0,1) (as the emulator's loss=), converted to tc's percent.
set -euo pipefail

NS_EDGE=hf-edge
NS_CLOUD=hf-cloud
IP_EDGE=10.77.0.1
IP_CLOUD=10.77.0.2
RTT=50ms JITTER=0ms RATE=10mbit LOSS=0
CLOUD_CMD="" EDGE_CMD="" WAIT_PORT=""
CLOUD_PID=""

die() { echo "netem.sh: $*" >&2; exit 1; }

# "50ms" / "0.05s" / "50" (ms) -> microseconds (integer), so halving is exact enough
to_us() {
    local v=$1
    case $v in
        *ms) awk -v x="${v%ms}" 'BEGIN{printf "%d", x*1000}' ;;
        *us) awk -v x="${v%us}" 'BEGIN{printf "%d", x}' ;;
        *s) awk -v x="${v%s}" 'BEGIN{printf "%d", x*1000000}' ;;
        *) awk -v x="$v" 'BEGIN{printf "%d", x*1000}' ;;
    esac
}

parse() {
    while [ $# -gt 0 ]; do
        case $1 in
            --rtt) RTT=$2; shift 2 ;;
            --jitter) JITTER=$2; shift 2 ;;
            --rate) RATE=$2; shift 2 ;;
            --loss) LOSS=$2; shift 2 ;;
            --cloud) CLOUD_CMD=$2; shift 2 ;;
            --edge) EDGE_CMD=$2; shift 2 ;;
            --wait-port) WAIT_PORT=$2; shift 2 ;;
            *) die "unknown option '$1'" ;;
        esac
    done
}

down() {
    if [ -n "$CLOUD_PID" ]; then kill "$CLOUD_PID" 2>/dev/null || true; wait "$CLOUD_PID" 2>/dev/null || true; fi
    ip netns del "$NS_EDGE" 2>/dev/null || true
    ip netns del "$NS_CLOUD" 2>/dev/null || true
}

up() {
    [ "$(id -u)" = 0 ] || die "needs root (ip netns, tc)"
    command -v tc >/dev/null || die "tc not found (package iproute2)"
    ip netns list | grep -qw "$NS_EDGE" && die "namespace $NS_EDGE exists; run '$0 down' first"
    ip netns add "$NS_EDGE"
    ip netns add "$NS_CLOUD"
    ip link add hf-veth-e netns "$NS_EDGE" type veth peer name hf-veth-c netns "$NS_CLOUD"
    ip -n "$NS_EDGE" addr add "$IP_EDGE/24" dev hf-veth-e
    ip -n "$NS_CLOUD" addr add "$IP_CLOUD/24" dev hf-veth-c
    for ns in "$NS_EDGE" "$NS_CLOUD"; do ip -n "$ns" link set lo up; done
    ip -n "$NS_EDGE" link set hf-veth-e up
    ip -n "$NS_CLOUD" link set hf-veth-c up
    local half_us jit_us loss_pct
    half_us=$(( $(to_us "$RTT") / 2 ))
    jit_us=$(to_us "$JITTER")
    loss_pct=$(awk -v p="$LOSS" 'BEGIN{printf "%.4f", p*100}')
    local jit=""
    [ "$jit_us" -gt 0 ] && jit="${jit_us}us distribution uniform"
    for pair in "$NS_EDGE:hf-veth-e" "$NS_CLOUD:hf-veth-c"; do
        local ns=${pair%%:*} dev=${pair##*:}
        # shellcheck disable=SC2086
        ip netns exec "$ns" tc qdisc add dev "$dev" root netem delay "${half_us}us" $jit rate "$RATE" loss "${loss_pct}%" ||
            die "tc netem failed: this kernel lacks the sch_netem module (load it with 'modprobe sch_netem' on the host)"
    done
    echo "netem.sh: $NS_EDGE ($IP_EDGE) <-> $NS_CLOUD ($IP_CLOUD): rtt=$RTT jitter=$JITTER rate=$RATE loss=$LOSS" >&2
}

wait_port() {
    local port=$1 i
    for i in $(seq 1 200); do
        if ip netns exec "$NS_EDGE" bash -c "exec 3<>/dev/tcp/$IP_CLOUD/$port" 2>/dev/null; then return 0; fi
        kill -0 "$CLOUD_PID" 2>/dev/null || die "cloud command exited before listening on $port"
        sleep 0.1
    done
    die "nothing listens on $IP_CLOUD:$port after 20s"
}

selftest() {
    ip netns exec "$NS_EDGE" ping -c 5 -i 0.2 -q "$IP_CLOUD" | tail -2
}

cmd=${1:-}
[ -n "$cmd" ] || die "usage: $0 run|up|down|selftest [options]"
shift
case $cmd in
    run)
        parse "$@"
        [ -n "$EDGE_CMD" ] || die "run needs --edge CMD"
        trap down EXIT INT TERM
        up
        if [ -n "$CLOUD_CMD" ]; then
            ip netns exec "$NS_CLOUD" bash -c "$CLOUD_CMD" &
            CLOUD_PID=$!
            [ -n "$WAIT_PORT" ] && wait_port "$WAIT_PORT"
        fi
        ip netns exec "$NS_EDGE" bash -c "$EDGE_CMD"
        ;;
    up)
        parse "$@"
        up
        echo "run commands with: ip netns exec $NS_CLOUD CMD / ip netns exec $NS_EDGE CMD; remove with: $0 down" >&2
        ;;
    down) down ;;
    selftest)
        parse "$@"
        trap down EXIT INT TERM
        up
        selftest
        ;;
    *) die "unknown command '$cmd'" ;;
esac
