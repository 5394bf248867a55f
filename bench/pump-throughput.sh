#!/usr/bin/env bash
# Pump throughput, tun -> udp -> udp -> tun between two namespaces joined by a veth pair: tunshape's
# pump against a C pump of the same design (bench/cpump.c, built here with gcc: the machine's limit
# for this design; `c` has tun's checksum offload and writes runs of UDP datagrams to tun as one
# frame, as tunshape's pump does with offloads, but no TSO; `c-plain` is the earlier design, a plain
# tun and one write a frame, to set against PUMP_ARGS=--no-offload) and socat (TUN <-> UDP), same
# setup, same run. iperf3 sends through the tunnel
# for D seconds and its receiver counts what arrived:
#   flood   UDP, iperf3 -b 0: the sender sends as fast as it can. On 2 cores it then spends most of a
#           core on packets that tun's full ring drops, which starves the pumps of CPU;
#   paced   UDP, iperf3 -b RATE for each rate in a sweep (the same rates for every pump): the best
#           delivered rate, with the loss at that rate;
#   tcp     one iperf3 TCP stream: Mbit/s received;
#   cpu     UDP 64 B paced at CPU_RATE (default 40M, about 54k pkt/s): the user+system CPU time of
#           both pump processes (all their threads) over the packets iperf3 received, in us/packet;
#   cold    the 64 B flood over the first WARMUP seconds after the pumps started, measured first. A
#           JVM compiles its hot code in those seconds (tunshape's pump: C1, then C2 for the loops
#           that run hottest), with the CPU the flood leaves it, so this is the start-up cost; the
#           other columns are measured after WARMUP more seconds of 1400 B flood, every pump alike,
#           as iperf3 --omit skips TCP's slow start. WARMUP=0: no warm-up, no cold column.
# 64-byte payloads give packets per second, 1400-byte ones Mbit/s. The tunnels' MTU is the veth's
# less the IP and UDP headers (1472), as for any UDP tunnel, so no tunnel packet is fragmented.
# Environment:
#   PUMPS="tunshape c socat"  which rows, in this order (also: c-plain)
#   SHAPE_ARGS="..."          after the devices are up, run `tunshape --netns NS apply t0 $SHAPE_ARGS`
#                             in both namespaces (e.g. SHAPE_ARGS="--rate 10gbit --qdisc htb")
#   PUMP_ARGS="..."           extra options for both tunshape pumps (e.g. --no-offload)
#   CPU_RATE=40M              the paced rate of the cpu column
#   WARMUP=3                  seconds of the cold column, and of the 1400 B warm-up after it
#   RUNS=1                    run the rows RUNS times, the order of PUMPS reversed every other run
#                             (the row measured first in a run tends to come out lower, whichever
#                             pump it is), then print each column's ratio tunshape / C pump per run
#                             and their median, when PUMPS has both
#   SMALL=1                   the smallest meaningful run (for CI, about 20 s): tunshape's pump alone
#                             unless PUMPS says otherwise, 1 s a measurement, no warm-up, no paced
#                             sweeps (the floods, TCP and the paced CPU column only); exits 1 when a
#                             measurement carried nothing or a pump died
# Usage (as root): bench/pump-throughput.sh [SECONDS]   needs: iproute2, socat, iperf3, gcc, a built jar
set -euo pipefail
SMALL=${SMALL:-0}
if [ "$SMALL" = 1 ]; then
    D=${1:-1}; PUMPS=${PUMPS:-tunshape}; WARMUP=${WARMUP:-0}; RUNS=${RUNS:-1}
else
    D=${1:-5}
fi
PUMPS=${PUMPS:-tunshape c socat}
CPU_RATE=${CPU_RATE:-40M}
WARMUP=${WARMUP:-3}
RUNS=${RUNS:-1}
failed=0
top=$(cd "$(dirname "$0")/.." && pwd)
jar="$top/target/tunshape.jar"
[ -f "$jar" ] || (cd "$top" && mvn -B -q -DskipTests package)
A=tsbenchA$$; B=tsbenchB$$
work=$(mktemp -d /tmp/tunshape-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT # through the EXIT trap: a signal ends the run, after the cleanup
trap 'exit 143' TERM
case " $PUMPS " in *" c "*|*" c-plain "*) gcc -O2 -pthread -o "$work/cpump" "$top/bench/cpump.c" ;; esac
ip netns add "$A"; ip netns add "$B"
ip link add va netns "$A" type veth peer name vb netns "$B"
ip -n "$A" addr add 198.19.0.1/24 dev va; ip -n "$B" addr add 198.19.0.2/24 dev vb
for n in "$A" "$B"; do
    ip -n "$n" link set lo up
    # no IPv6 on the tunnels: socat exits when an early router solicitation meets a closed port
    ip netns exec "$n" sysctl -q -w net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$A" link set va up; ip -n "$B" link set vb up

wait_dev() {
    for n in "$A" "$B"; do
        for _ in $(seq 100); do ip -n "$n" link show t0 >/dev/null 2>&1 && break; sleep 0.1; done
    done
}
dev_up() { # addresses, MTU, state, and the shaping under test
    ip -n "$A" addr add 198.18.0.1/30 dev t0; ip -n "$B" addr add 198.18.0.2/30 dev t0
    for n in "$A" "$B"; do
        ip -n "$n" link set t0 mtu 1472 up
        if [ -n "${SHAPE_ARGS:-}" ]; then
            # shellcheck disable=SC2086
            "$top/bin/tunshape" --netns "$n" apply t0 $SHAPE_ARGS >/dev/null
        fi
    done
}
start_tunshape() {
    # shellcheck disable=SC2086
    ip netns exec "$A" "$top/bin/tunshape" pump --dev t0 --create --backend udp:198.19.0.2:7000 \
        --listen 198.19.0.1:7000 --report /run/tunshape-bench-none.sock ${PUMP_ARGS:-} 2>"$work/pumpA.log" & pids+=($!)
    # shellcheck disable=SC2086
    ip netns exec "$B" "$top/bin/tunshape" pump --dev t0 --create --backend udp:198.19.0.1:7000 \
        --listen 198.19.0.2:7000 --report /run/tunshape-bench-none.sock ${PUMP_ARGS:-} 2>"$work/pumpB.log" & pids+=($!)
    wait_dev; dev_up
}
start_c() { # $1 = "runs" for UDP runs written to tun as one frame, as tunshape's pump with offloads
    ip netns exec "$A" "$work/cpump" t0 198.19.0.1 7000 198.19.0.2 7000 ${1:-} & pids+=($!)
    ip netns exec "$B" "$work/cpump" t0 198.19.0.2 7000 198.19.0.1 7000 ${1:-} & pids+=($!)
    wait_dev; dev_up
}
start_socat() { # B first, so that A's first datagram finds a socket
    ip netns exec "$B" socat -b 65536 TUN:198.18.0.2/30,tun-name=t0,tun-type=tun,iff-no-pi \
        UDP:198.19.0.1:7000,bind=198.19.0.2:7000 & pids+=($!)
    sleep 0.3
    ip netns exec "$A" socat -b 65536 TUN:198.18.0.1/30,tun-name=t0,tun-type=tun,iff-no-pi \
        UDP:198.19.0.2:7000,bind=198.19.0.1:7000 & pids+=($!)
    wait_dev
    for n in "$A" "$B"; do
        ip -n "$n" link set t0 mtu 1472 up
        if [ -n "${SHAPE_ARGS:-}" ]; then
            # shellcheck disable=SC2086
            "$top/bin/tunshape" --netns "$n" apply t0 $SHAPE_ARGS >/dev/null
        fi
    done
}
stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
    sleep 0.3
}
iperf() { # iperf3 client arguments...; prints the client's JSON (for T seconds, default D)
    # both bounded in time: a client that never reaches the server (a tunnel not up yet, a pump
    # starved under load) would leave a one-off server waiting for it forever
    local limit=$(( ${T:-$D} + 20 ))
    timeout "$limit" ip netns exec "$B" iperf3 -s -1 -B 198.18.0.2 -p 5201 >/dev/null 2>&1 & local srv=$!
    sleep 0.5
    timeout "$limit" ip netns exec "$A" iperf3 -c 198.18.0.2 -B 198.18.0.1 -p 5201 -t "${T:-$D}" -J "$@" 2>/dev/null || true
    kill "$srv" 2>/dev/null || true
    wait $srv 2>/dev/null || true
}
measure() { # $1 = payload bytes, $2 = offered rate (0 = flood); prints "pps mbit loss% received"
    python3 - "$(iperf -u -b "$2" -l "$1")" <<'PY'
import json, sys
try:
    s = json.loads(sys.argv[1])["end"]["sum"]
    secs = s["seconds"]
    received = s["packets"] - s["lost_packets"]
    print("%.0f %.1f %.2f %d" % (received / secs, received * s["bytes"] / max(s["packets"], 1) * 8 / secs / 1e6,
                                 100.0 * s["lost_packets"] / max(s["packets"], 1), received))
except Exception:
    print("0 0 100 0")
PY
}
tcp() { # prints Mbit/s received by one TCP stream
    python3 - "$(iperf)" <<'PY'
import json, sys
try:
    print("%.0f" % (json.loads(sys.argv[1])["end"]["sum_received"]["bits_per_second"] / 1e6))
except Exception:
    print("0")
PY
}
cputicks() { # user+system clock ticks of the pump processes and all their descendants, all threads
    local sum=0 p c
    local todo=("${pids[@]}")
    while [ ${#todo[@]} -gt 0 ]; do
        p=${todo[0]}; todo=("${todo[@]:1}")
        [ -r "/proc/$p/stat" ] || continue
        sum=$((sum + $(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$p/stat")))
        for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do todo+=("$c"); done
    done
    echo "$sum"
}
cpu_per_packet() { # prints "us/packet pkt/s"
    local t0 t1 m
    t0=$(cputicks)
    m=$(measure 64 "$CPU_RATE")
    t1=$(cputicks)
    set -- $m
    awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$4" -v pps="$1" \
        'BEGIN { printf "%.2f %.0f\n", (n > 0 ? t / hz * 1e6 / n : 0), pps }'
}
best() { # $1 = payload bytes, $2 = field (1 pps, 2 Mbit/s), rest = offered rates; prints "value loss% offered"
    local size=$1 field=$2; shift 2
    local top="0 0 -" r m
    for r in "$@"; do
        m=$(measure "$size" "$r")
        top=$(echo "$top|$m $r" | awk -F'|' -v f="$field" '{split($1,a," "); split($2,b," ");
            if (b[f] > a[1]) print b[f], b[3], b[5]; else print $1}')
    done
    echo "$top"
}
# the same offered rates for every pump: 64-byte payloads (92 bytes on the wire) and 1400-byte ones
if [ "$SMALL" = 1 ]; then
    RATES_64=(); RATES_1400=()
else
    RATES_64=(40M 60M 80M 100M); RATES_1400=(400M 600M 800M 1000M 1200M 1400M 1600M)
fi
row() { # $1 = name, $2 = the run; prints the row and keeps its numbers in $work/results
    local fs fl ps pl t c cold="-"
    if [ "$WARMUP" != 0 ]; then
        cold=$(T=$WARMUP measure 64 0 | cut -d' ' -f1)
        T=$WARMUP measure 1400 0 >/dev/null
    fi
    fs=$(measure 64 0); fl=$(measure 1400 0)
    ps="- - -"; pl="- - -"
    [ ${#RATES_64[@]} = 0 ] || ps=$(best 64 1 "${RATES_64[@]}")
    [ ${#RATES_1400[@]} = 0 ] || pl=$(best 1400 2 "${RATES_1400[@]}")
    t=$(tcp); c=$(cpu_per_packet)
    local run=$2
    # a measurement that carried nothing (iperf3 failed, the tunnel is broken) or a pump that died
    local p v
    for v in "${fs%% *}" "${fl%% *}" "${ps%% *}" "${pl%% *}" "$t" "${c##* }"; do
        case $v in 0|0.0|0.00) echo "$1: a measurement carried nothing" >&2; failed=1 ;; esac
    done
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || { echo "$1: a pump died (pid $p)" >&2; failed=1; }; done
    set -- "$1" $fs $fl $ps $pl "$t" $c
    printf "| %-15s | %7s pkt/s | %7s Mbit/s | %7s pkt/s (%s%% lost, offered %s) | %7s Mbit/s (%s%% lost, offered %s) | %6s Mbit/s | %5s us (%s pkt/s) | %7s pkt/s |\n" \
        "$1" "$2" "$7" "${10}" "${11}" "${12}" "${13}" "${14}" "${15}" "${16}" "${17}" "${18}" "$cold"
    echo "$run $1|$2 $7 ${10} ${13} ${16} ${17} $cold" >>"$work/results"
}
for p in $PUMPS; do
    case $p in tunshape|c|c-plain|socat) ;; *) echo "unknown pump '$p' in PUMPS; accepted: tunshape c c-plain socat" >&2; exit 2 ;; esac
done
echo "pump throughput, $D s per measurement, warm-up ${WARMUP} s, $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)${SHAPE_ARGS:+, shaped: $SHAPE_ARGS}"
echo "| pump            | flood, 64 B   | flood, 1400 B  | paced, 64 B (best of the sweep) | paced, 1400 B (best of the sweep) | TCP | CPU/packet, 64 B at $CPU_RATE | cold: flood, 64 B, first ${WARMUP} s |"
echo "| --------------- | ------------- | -------------- | ------------------------------- | --------------------------------- | --- | --- | --- |"
order=$PUMPS
for run in $(seq "$RUNS"); do
    for p in $order; do
        case $p in
            tunshape) start_tunshape; row "tunshape pump" "$run"; stop_all ;;
            c) start_c runs; row "C pump (limit)" "$run"; stop_all ;;
            c-plain) start_c; row "C pump, plain tun" "$run"; stop_all ;;
            socat) start_socat; row "socat TUN<->UDP" "$run"; stop_all ;;
        esac
    done
    order=$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$failed" = 1 ] && [ "$SMALL" = 1 ]; then
    echo "pump-throughput: FAILED (see above)" >&2
    exit 1
fi
# the ratios tunshape / C pump, run by run, and their median (CPU per packet: the lower the better)
python3 - "$work/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    head, nums = line.rstrip("\n").split("|")
    run, name = head.split(" ", 1)
    rows.setdefault(name, {})[run] = nums.split()
t, c = rows.get("tunshape pump"), rows.get("C pump (limit)")
if not t or not c:
    sys.exit(0)
cols = ["flood 64 B", "flood 1400 B", "paced 64 B", "paced 1400 B", "TCP", "CPU/packet", "cold 64 B"]
print("tunshape / C pump, run by run, and the median:")
for i, name in enumerate(cols):
    r = []
    for run in sorted(t, key=int):
        try:
            a, b = float(t[run][i]), float(c[run][i])
        except (ValueError, KeyError, IndexError):
            continue
        if b > 0:
            r.append(a / b)
    if r:
        print("  %-13s %s  median %.2f" % (name, " ".join("%.2f" % x for x in r), statistics.median(r)))
PY
