#!/usr/bin/env bash
# The flow-control examples of docs/tunnels.md, radio.md and emulators.md, run as a reader would:
#
#     docs/examples/flow-control/run.sh c|python|go [off]
#
# Builds the chosen driver (gcc; python3; go build, standard library only), makes a throwaway
# namespace with a persistent tun device t0, lets the driver attach to it (asking for IFF_BACKPRESSURE
# where the kernel offers it; "off" to leave it off), reads the device's tun_flags back from sysfs,
# shapes t0 at twice the driver's pace (a wrong profile: tunshape apply t0 --rate 2mbit against a
# 1 Mbit/s reader) and sends a bounded UDP burst through it. Then, as a second part, it stops the
# reader (SIGSTOP) under traffic and runs the guides' one-line stall watch. Everything is removed on
# exit. Needs root, iproute2 and python3 (the sender), plus gcc or go for those drivers.
#
# On a kernel that offers the flag (7.3-rc in the kernel harness's QEMU guest) the same script is the
# check of the "offered" path: for d in c python go; do run.sh $d; done; run.sh c off
# (GuidesIT#flowControlDriversSetTheFlagOnlyWhereOffered asserts what each should print.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
ts="$top/bin/tunshape"
lang=${1:?usage: run.sh c|python|go [off]}
mode=${2:-}
N=tsg-fc-$$
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$N" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

case "$lang" in
    c) gcc -O2 -Wall -o "$work/reader" "$here/tun-reader.c"; reader=("$work/reader") ;;
    python) reader=(python3 "$here/tun_reader.py") ;;
    go) (cd "$here" && GOCACHE="$work/gocache" GOPATH="$work/gopath" GO111MODULE=off GOPROXY=off go build -o "$work/reader" tunreader.go)
        reader=("$work/reader") ;;
    *) echo "run.sh: unknown driver '$lang' (c, python or go)" >&2; exit 2 ;;
esac

ip netns add "$N"
ip -n "$N" link set lo up
ip netns exec "$N" sysctl -q net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$N" tuntap add dev t0 mode tun        # persistent, as an emulator or ifupdown makes it
ip -n "$N" addr add 198.18.0.1 peer 198.18.0.2 dev t0
ip -n "$N" link set t0 up
flags() { ip netns exec "$N" cat /sys/class/net/t0/tun_flags; }
stat() { ip netns exec "$N" cat "/sys/class/net/t0/statistics/$1"; }
"$ts" --netns "$N" apply t0 --rate 2mbit > /dev/null
attach() {  # seconds: the driver attaches to t0 and reads at 1 Mbit/s; waits until it has
    ip netns exec "$N" "${reader[@]}" t0 1000000 "$1" $mode > "$work/reader.out" 2>&1 &
    pids+=($!)
    for i in $(seq 100); do grep -q attached "$work/reader.out" && return; sleep 0.1; done
    cat "$work/reader.out"; exit 1
}

echo "== $lang driver reading at 1 Mbit/s; t0 shaped at 2 Mbit/s (a wrong profile: twice the reader's pace)"
echo "tun_flags before the driver attached: $(flags) (ip tuntap add: IFF_TUN|IFF_PERSIST|IFF_NO_PI)"
attach 14
cat "$work/reader.out"
echo "tun_flags with the driver attached: $(flags)"
ip netns exec "$N" python3 "$here/../udp-burst.py" send 198.18.0.2 9000 1000 1000
wait "${pids[-1]}"
tail -1 "$work/reader.out"
echo "read by the driver (t0's tx_packets): $(stat tx_packets)"
echo "dropped at tun (t0's tx_dropped): $(stat tx_dropped)"
ip netns exec "$N" tc -s qdisc show dev t0 | sed -n '2,3p'

echo "== the reader stops (SIGSTOP) and 800 datagrams follow; the guides' stall watch, for 5 s"
before=$(stat tx_dropped)
attach 16
reader_pid=${pids[-1]}
kill -STOP "$reader_pid"
ip netns exec "$N" python3 "$here/../udp-burst.py" send 198.18.0.2 9000 800 1000 > "$work/sender.out" &
pids+=($!)
# the stall watch exactly as docs/tunnels.md gives it (one line), on t0, for 5.5 s instead of forever
watch=$(grep -m1 '^DEV=wg0 S=1; ' "$top/docs/tunnels.md" | sed 's/^DEV=wg0 /DEV=t0 /')
[ -n "$watch" ] || { echo "run.sh: no stall watch line in docs/tunnels.md" >&2; exit 1; }
# and docs/emulators.md's, which reads the counter through netlink (a node's /sys may be the host's)
ewatch=$(grep -m1 '^DEV=emu0 S=1; ' "$top/docs/emulators.md" | sed 's/^DEV=emu0 /DEV=t0 /')
[ -n "$ewatch" ] || { echo "run.sh: no stall watch line in docs/emulators.md" >&2; exit 1; }
ip netns exec "$N" timeout 5.5 bash -c "$ewatch" > "$work/ewatch.out" 2>&1 &
ewatch_pid=$!
ip netns exec "$N" timeout 5.5 bash -c "$watch" || [ $? = 124 ]
wait $ewatch_pid || [ $? = 124 ]
sed 's/^/emulators.md watch: /' "$work/ewatch.out"
echo "while the reader was stopped: dropped at tun $(( $(stat tx_dropped) - before )); the sender $(kill -0 "${pids[-1]}" 2>/dev/null && echo "was still blocked" || echo "had finished")"
kill -CONT "$reader_pid"
wait "$reader_pid"
wait "${pids[-1]}"
cat "$work/sender.out"
tail -1 "$work/reader.out"
echo "dropped at tun in all: $(( $(stat tx_dropped) - before ))"
