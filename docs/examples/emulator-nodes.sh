#!/usr/bin/env bash
# The emulators guide's worked example (docs/emulators.md): nodes made the way CORE's vnoded and
# Mininet's mnexec make them (a process that unshares a network namespace, and a UTS namespace with
# the node's hostname; no name under /var/run/netns), a tap device in each, and one tunshape daemon
# that shapes every node's tap selected by hostname; a pump inside one node reports without naming
# its namespace and the daemon moves that node's rate only; a node that ends is released.
# Everything is removed on exit. Needs root and util-linux's unshare and nsenter.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
ts="$top/bin/tunshape"
tag=tsg$$                      # node hostnames tsgPID-n1, tsgPID-n2, ...: only this run's nodes match
work=$(mktemp -d)
pids=()
cleanup() {
    # a node ends with its process (unshare --fork ignores SIGTERM while it waits for it)
    for f in "$work"/n*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for i in $(seq 100); do   # up to 10 s: the daemon puts things back before it exits
        alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break; sleep 0.1
    done
    rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/tunshape.yaml" <<CONF
report_socket: $work/report.sock
control_socket: $work/control.sock
restore_on_exit: true
interfaces:
  - match: "emu*"              # the nodes' radio interface
    hostname: "$tag-n*"        # CORE names its nodes n1, n2, ...: select them by the hostname they see
    profile: manet-80211a-olsr
    adaptive: true
CONF
echo "== the daemon"
"$ts" daemon --config "$work/tunshape.yaml" 2> "$work/daemon.log" &
pids+=($!)
for i in $(seq 100); do [ -S "$work/control.sock" ] && break; sleep 0.1; done
[ -S "$work/control.sock" ] || { cat "$work/daemon.log"; exit 1; }

node() {  # n: a node as vnoded makes it: its own network and UTS namespaces, held by one process
    unshare --net --uts --fork --kill-child sh -c \
        "echo \$\$ > $work/$1.pid; hostname $tag-$1; ip link set lo up; ip tuntap add dev emu0 mode tap; ip link set emu0 up; exec sleep 300" &
    pids+=($!)
}
node n1; node n2; node n3
echo "== three nodes made; the daemon shapes each emu0 within a second"
for i in $(seq 50); do
    [ "$("$ts" status --socket "$work/control.sock" --json | grep -o '"dev":"emu0"' | wc -l)" -ge 3 ] && break
    sleep 0.2
done
"$ts" status --socket "$work/control.sock"

n1=$(cat "$work/n1.pid")
echo "== a pump inside node n1 (pid $n1): a 6 Mbit/s radio; its reports name no namespace"
nsenter -t "$n1" -n "$ts" pump --dev emu0 --tap --backend sink --emulate-rate 6mbit \
    --report "$work/report.sock" --report-interval 500ms > "$work/pump.log" 2>&1 &
pids+=($!)
for i in $(seq 150); do grep -q "moving frames" "$work/pump.log" && break; sleep 0.1; done
# something to carry, so the pump can measure the radio: 4 s of broadcast frames on n1's tap (bounded)
nsenter -t "$n1" -n sh -c 'ip addr add 198.18.255.1/24 dev emu0; timeout 5 ping -b -q -c 2000 -i 0.002 -s 1400 198.18.255.255 >/dev/null 2>&1 || true' &
pids+=($!)
for i in $(seq 40); do   # until the daemon has a capacity for n1 (a report a second or two after the traffic)
    "$ts" status --socket "$work/control.sock" | grep -q "n1, .*capacity [0-9]" && break
    sleep 0.25
done
sleep 1
"$ts" status --socket "$work/control.sock"

n2=$(cat "$work/n2.pid")
echo "== node n2 ends (pid $n2): the daemon releases it"
kill "$n2"
sleep 1.5
"$ts" status --socket "$work/control.sock"
echo "== the daemon's log"
cat "$work/daemon.log"
