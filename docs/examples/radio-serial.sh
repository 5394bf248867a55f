#!/usr/bin/env bash
# The radio guide's serial example (docs/radio.md): two tunshape pumps joined by a serial line
# (a pty pair made by socat stands in for the cable between two 9600-baud radio modems), SLIP
# framing, the line's speed emulated by the pumps (a pty has no baud rate), the slip-9600 profile
# on both tun devices, and ping across. Set FRAMING=kiss for KISS framing instead. Two throwaway
# namespaces, removed on exit. Needs root, socat and iputils-ping.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
ts="$top/bin/tunshape"
framing=${FRAMING:-slip}
A=tsg-serial-a-$$ B=tsg-serial-b-$$
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
for c in socat ping; do command -v $c >/dev/null || { echo "radio-serial: needs $c" >&2; exit 1; }; done
ip netns add "$A"; ip netns add "$B"

# the 'cable': two ptys whose bytes socat copies across, raw, no echo
socat pty,raw,echo=0,link="$work/ttyA" pty,raw,echo=0,link="$work/ttyB" &
pids+=($!)
for i in $(seq 50); do [ -e "$work/ttyA" ] && [ -e "$work/ttyB" ] && break; sleep 0.1; done

pump() {  # ns tty
    "$ts" --netns "$1" pump --dev sl0 --create --backend "serial:$2" --baud 9600 --framing "$framing" \
        --emulate-rate 9600bit > "$work/pump-$1.log" 2>&1 &
    pids+=($!)
    for i in $(seq 100); do ip -n "$1" link show sl0 >/dev/null 2>&1 && break; sleep 0.1; done
}
pump "$A" "$work/ttyA"; pump "$B" "$work/ttyB"
ip -n "$A" addr add 198.18.252.1 peer 198.18.252.2 dev sl0; ip -n "$A" link set sl0 mtu 296 up
ip -n "$B" addr add 198.18.252.2 peer 198.18.252.1 dev sl0; ip -n "$B" link set sl0 mtu 296 up

echo "== shape both ends to the line"
"$ts" --netns "$A" apply sl0 -p slip-9600
"$ts" --netns "$B" apply sl0 -p slip-9600
echo "== ping across the serial line ($framing, 9600 baud)"
if ! ip netns exec "$A" ping -c 3 -i 1 -W 5 -s 100 198.18.252.2; then
    for f in "$work"/*.log; do echo "--- $f"; tail -n 5 "$f"; done
    exit 1
fi
"$ts" --netns "$A" show sl0
