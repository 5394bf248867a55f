#!/usr/bin/env bash
# The tunnels guide's worked example (docs/tunnels.md): two tunshape pumps make a UDP tunnel between
# two namespaces over a veth 'underlay'; the sending pump emulates a 10 Mbit/s uplink. A burst of 3000
# datagrams of 1200 bytes crosses it four times, with a ping beside it: with the kernel's default
# qdisc, with the wireguard-10mbit profile (latency mode, for a gateway that forwards), with
# backpressure (--rate at the profile's rate, for a host whose own applications send), and with
# backpressure and 16 flow queues (--flows 16). Throwaway namespaces,
# removed on exit. Needs root and python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
ts="$top/bin/tunshape"
A=tsg-tun-a-$$ B=tsg-tun-b-$$
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$A"; ip netns add "$B"
ip link add tua type veth peer name tub
ip link set tua netns "$A"; ip link set tub netns "$B"
ip -n "$A" addr add 198.18.253.1/30 dev tua; ip -n "$B" addr add 198.18.253.2/30 dev tub
for n in "$A" "$B"; do ip -n "$n" link set lo up; done
ip -n "$A" link set tua up; ip -n "$B" link set tub up

# the tunnel: wg0 in each namespace, frames carried one per datagram on UDP port 51820
"$ts" --netns "$A" pump --dev wg0 --create --backend udp:198.18.253.2:51820 --listen 198.18.253.1:51820 \
    --emulate-rate 10mbit > "$work/pump-a.log" 2>&1 &
pids+=($!)
"$ts" --netns "$B" pump --dev wg0 --create --backend udp:198.18.253.1:51820 --listen 198.18.253.2:51820 \
    > "$work/pump-b.log" 2>&1 &
pids+=($!)
for n in "$A" "$B"; do for i in $(seq 100); do ip -n "$n" link show wg0 >/dev/null 2>&1 && break; sleep 0.1; done; done
ip -n "$A" addr add 198.18.254.1 peer 198.18.254.2 dev wg0; ip -n "$A" link set wg0 mtu 1420 up
ip -n "$B" addr add 198.18.254.2 peer 198.18.254.1 dev wg0; ip -n "$B" link set wg0 mtu 1420 up

burst() {  # title
    echo "== $1"
    ip netns exec "$B" python3 "$here/udp-burst.py" recv 198.18.254.2 9000 2 > "$work/recv" &
    local r=$!
    sleep 0.3
    local before
    before=$(ip netns exec "$A" cat /sys/class/net/wg0/statistics/tx_dropped)
    # a sparse flow beside the burst: ping through the tunnel while the burst is queued
    ip netns exec "$A" sh -c 'sleep 0.5; ping -q -c 8 -i 0.25 -W 3 198.18.254.2' > "$work/ping" 2>&1 &
    local pp=$!
    ip netns exec "$A" python3 "$here/udp-burst.py" send 198.18.254.2 9000 3000 1200
    wait $pp || true
    wait $r
    echo "ping beside the burst: $(grep -o '[0-9]* received' "$work/ping") of 8, $(grep -o 'rtt.*' "$work/ping" | sed 's|rtt min/avg/max/mdev|rtt min/avg/max|; s|/[0-9.]* ms$| ms|')"
    cat "$work/recv"
    echo "dropped at tun: $(( $(ip netns exec "$A" cat /sys/class/net/wg0/statistics/tx_dropped) - before ))"
    "$ts" --netns "$A" show wg0 | grep -E "qdisc|sent" | head -2
}
burst "kernel default qdisc"
"$ts" --netns "$A" apply wg0 -p wireguard-10mbit > /dev/null
burst "wireguard-10mbit profile (latency mode, 50 ms: the excess is dropped in the qdisc, and counted)"
"$ts" --netns "$A" clear wg0 > /dev/null   # fresh counters for the next row
"$ts" --netns "$A" apply wg0 --rate 10mbit --overhead 86 --mpu 64 > /dev/null
burst "backpressure at the same rate (the sender blocks; nothing is lost)"
"$ts" --netns "$A" clear wg0 > /dev/null
"$ts" --netns "$A" apply wg0 --rate 10mbit --overhead 86 --mpu 64 --flows 16 > /dev/null
burst "backpressure with 16 flow queues (--flows 16: each flow its own queue)"
"$ts" --netns "$A" clear wg0 > /dev/null
