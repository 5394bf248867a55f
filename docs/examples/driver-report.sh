#!/usr/bin/env bash
# The radio guide's third example (docs/radio.md): a third-party modem driver that knows its
# modulation rate reports it to the tunshape daemon (examples/report.py stands in for the driver; any
# language that can send a JSON datagram will do), and the daemon moves the device's shaping rate to
# follow: an acoustic modem that drops from its 16 kbit/s to 4800 bit/s and comes back. Throwaway
# namespace and daemon, removed on exit. Needs root and python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
ts="$top/bin/tunshape"
ns=tsg-drv-$$
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for i in $(seq 100); do   # up to 10 s: the daemon puts things back before it exits
        alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break; sleep 0.1
    done
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" tuntap add dev modem0 mode tap

cat > "$work/tunshape.yaml" <<CONF
report_socket: $work/report.sock
control_socket: $work/control.sock
restore_on_exit: true
interfaces:
  - match: "modem0"
    netns: "$ns"
    profile: acoustic-evologics-s2cr-48-78
    adaptive: true
CONF
"$ts" daemon --config "$work/tunshape.yaml" 2> "$work/daemon.log" &
pids+=($!)
for i in $(seq 150); do [ -S "$work/control.sock" ] && [ -S "$work/report.sock" ] && break; sleep 0.1; done
[ -S "$work/control.sock" ] || { cat "$work/daemon.log"; exit 1; }
sleep 1
state() { "$ts" status --socket "$work/control.sock" | grep '^modem0'; }
echo "== the profile's rate"
state
drv() {  # capacity in bit/s, as the driver knows it
    python3 "$top/examples/report.py" --socket "$work/report.sock" --dev modem0 --netns "$ns" \
        --capacity "$1" --count 4 --interval 0.6
}
echo "== the driver reports 4800 bit/s (the modem fell back to a robust modulation)"
drv 4800.0
state
echo "== the driver reports 16000 bit/s again"
drv 16000
state
