#!/usr/bin/env bash
# Pump throughput, tun -> udp -> udp -> tun between two namespaces joined by a veth pair:
# tunshape's pump against socat (TUN <-> UDP), same setup, same run. iperf3 sends UDP from one
# namespace's tun address to the other's for D seconds: packets per second with 64-byte payloads,
# Mbit/s with 1400-byte payloads (as iperf3's receiver counts them).
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

java_opts="-XX:+UseSerialGC"
start_tunshape() {
    ip netns exec "$A" java $java_opts -jar "$jar" pump --dev t0 --create --backend udp:198.19.0.2:7000 \
        --listen 198.19.0.1:7000 --report /run/tunshape-bench-none.sock 2>/dev/null & pids+=($!)
    ip netns exec "$B" java $java_opts -jar "$jar" pump --dev t0 --create --backend udp:198.19.0.1:7000 \
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
measure() { # $1 = payload bytes; prints "pps mbit"
    ip netns exec "$B" iperf3 -s -1 -B 198.18.0.2 -p 5201 >/dev/null 2>&1 & local srv=$!
    sleep 0.5
    local json
    json=$(ip netns exec "$A" iperf3 -c 198.18.0.2 -B 198.18.0.1 -p 5201 -u -b 0 -l "$1" -t "$D" -J 2>/dev/null)
    wait $srv 2>/dev/null || true
    python3 - "$json" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
s = j["end"]["sum"]
secs = s["seconds"]
received = s["packets"] - s["lost_packets"]
print("%.0f %.1f" % (received / secs, received * s["bytes"] / max(s["packets"], 1) * 8 / secs / 1e6))
PY
}
row() { # $1 = name
    local small large
    small=$(measure 64); large=$(measure 1400)
    printf "| %-18s | %12s pkt/s | %9s Mbit/s |\n" "$1" "${small%% *}" "${large##* }"
}
echo "pump throughput, $D s per measurement, $(nproc) cores"
echo "| pump               | 64-byte payloads | 1400-byte payloads |"
echo "| ------------------ | ---------------- | ------------------ |"
start_tunshape; row "tunshape pump"; stop_all
start_socat; row "socat TUN<->UDP"; stop_all
