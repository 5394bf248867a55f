#!/usr/bin/env bash
# Pump throughput, tun -> udp -> udp -> tun between two namespaces joined by a veth pair:
# tunshape's pump against socat (TUN <-> UDP), same setup, same run. iperf3 sends UDP from one
# namespace's tun address to the other's for D seconds and its receiver counts what arrived:
# packets per second with 64-byte payloads, Mbit/s with 1400-byte payloads. Two ways of offering:
#   flood   iperf3 -b 0: the sender sends as fast as it can. On 2 cores it then spends most of a
#           core on packets that tun's full ring drops, which starves the pumps of CPU;
#   paced   iperf3 -b RATE for each rate in a sweep (the same rates for both pumps): the best
#           delivered rate, with the loss at that rate.
# Usage (as root): bench/pump-throughput.sh [SECONDS]     needs: iproute2, socat, iperf3, a built jar
set -euo pipefail
D=${1:-5}
top=$(cd "$(dirname "$0")/.." && pwd)
jar="$top/target/tunshape.jar"
[ -f "$jar" ] || (cd "$top" && mvn -B -q -DskipTests package)
A=tsbenchA$$; B=tsbenchB$$
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
ip netns add "$A"; ip netns add "$B"
ip link add va netns "$A" type veth peer name vb netns "$B"
ip -n "$A" addr add 198.19.0.1/24 dev va; ip -n "$B" addr add 198.19.0.2/24 dev vb
for n in "$A" "$B"; do
    ip -n "$n" link set lo up
    # no IPv6 on the tunnels: socat exits when an early router solicitation meets a closed port
    ip netns exec "$n" sysctl -q -w net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$A" link set va up; ip -n "$B" link set vb up

start_tunshape() {
    ip netns exec "$A" "$top/bin/tunshape" pump --dev t0 --create --backend udp:198.19.0.2:7000 \
        --listen 198.19.0.1:7000 --report /run/tunshape-bench-none.sock 2>/dev/null & pids+=($!)
    ip netns exec "$B" "$top/bin/tunshape" pump --dev t0 --create --backend udp:198.19.0.1:7000 \
        --listen 198.19.0.2:7000 --report /run/tunshape-bench-none.sock 2>/dev/null & pids+=($!)
    for n in "$A" "$B"; do
        for _ in $(seq 100); do ip -n "$n" link show t0 >/dev/null 2>&1 && break; sleep 0.1; done
    done
    ip -n "$A" addr add 198.18.0.1/30 dev t0; ip -n "$B" addr add 198.18.0.2/30 dev t0
    ip -n "$A" link set t0 up; ip -n "$B" link set t0 up
}
start_socat() { # B first, so that A's first datagram finds a socket
    ip netns exec "$B" socat -b 65536 TUN:198.18.0.2/30,tun-name=t0,tun-type=tun,iff-no-pi,iff-up \
        UDP:198.19.0.1:7000,bind=198.19.0.2:7000 & pids+=($!)
    sleep 0.3
    ip netns exec "$A" socat -b 65536 TUN:198.18.0.1/30,tun-name=t0,tun-type=tun,iff-no-pi,iff-up \
        UDP:198.19.0.2:7000,bind=198.19.0.1:7000 & pids+=($!)
    for n in "$A" "$B"; do
        for _ in $(seq 100); do ip -n "$n" addr show t0 2>/dev/null | grep -q 198.18 && break; sleep 0.1; done
    done
}
stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
    sleep 0.3
}
measure() { # $1 = payload bytes, $2 = offered rate (0 = flood); prints "pps mbit loss%"
    ip netns exec "$B" iperf3 -s -1 -B 198.18.0.2 -p 5201 >/dev/null 2>&1 & local srv=$!
    sleep 0.5
    local json
    json=$(ip netns exec "$A" iperf3 -c 198.18.0.2 -B 198.18.0.1 -p 5201 -u -b "$2" -l "$1" -t "$D" -J 2>/dev/null)
    wait $srv 2>/dev/null || true
    python3 - "$json" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
s = j["end"]["sum"]
secs = s["seconds"]
received = s["packets"] - s["lost_packets"]
print("%.0f %.1f %.2f" % (received / secs, received * s["bytes"] / max(s["packets"], 1) * 8 / secs / 1e6,
                          100.0 * s["lost_packets"] / max(s["packets"], 1)))
PY
}
best() { # $1 = payload bytes, $2 = field (1 pps, 2 Mbit/s), rest = offered rates; prints "value loss% offered"
    local size=$1 field=$2; shift 2
    local top="0 0 -" r m
    for r in "$@"; do
        m=$(measure "$size" "$r")
        top=$(echo "$top|$m $r" | awk -F'|' -v f="$field" '{split($1,a," "); split($2,b," ");
            if (b[f] > a[1]) print b[f], b[3], b[4]; else print $1}')
    done
    echo "$top"
}
# the same offered rates for both pumps: 64-byte payloads (92 bytes on the wire) and 1400-byte ones
SMALL=(40M 60M 80M 100M)
LARGE=(400M 600M 800M 1000M 1200M 1400M 1600M)
row() { # $1 = name
    local fs fl ps pl
    fs=$(measure 64 0); fl=$(measure 1400 0)
    ps=$(best 64 1 "${SMALL[@]}"); pl=$(best 1400 2 "${LARGE[@]}")
    set -- "$1" $fs $fl $ps $pl
    printf "| %-15s | %7s pkt/s | %7s Mbit/s | %7s pkt/s (%s%% lost, offered %s) | %7s Mbit/s (%s%% lost, offered %s) |\n" \
        "$1" "$2" "$6" "$8" "$9" "${10}" "${11}" "${12}" "${13}"
}
echo "pump throughput, $D s per measurement, $(nproc) cores"
echo "| pump            | flood, 64 B   | flood, 1400 B  | paced, 64 B (best of the sweep) | paced, 1400 B (best of the sweep) |"
echo "| --------------- | ------------- | -------------- | ------------------------------- | --------------------------------- |"
start_tunshape; row "tunshape pump"; stop_all
start_socat; row "socat TUN<->UDP"; stop_all
