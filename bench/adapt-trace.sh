#!/usr/bin/env bash
# Adaptation on a Mahimahi trace: a pump emulating the trace behind tun t0 (frames go over UDP to
# a receiver that timestamps them), a UDP sender saturating t0, and three set-ups in the same run:
# the daemon adapting the rate to the pump's reports, static shaping at the trace's mean rate, and
# no shaping. Prints utilisation (delivered / trace capacity over the run), drops at tun, and the
# 95th-percentile wait from send to the backend.
# Usage (as root): [TXQ=N] bench/adapt-trace.sh [TRACE] [SECONDS]   needs python3 and a built jar
# TXQ sets the profile's txqueuelen (default auto: about one second of frames), MINDIV its min_rate as
# the mean / MINDIV (default 10), SMOOTH, MININT and DRAIN the daemon's smoothing, min_interval and drain
# (50%, 500ms, 1s), REPORT the pump's report interval (500ms); ROWS picks the set-ups (default: adaptive static none).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
TRACE=${1:-$top/../shared/traces/TMobile-UMTS-driving.up}
SECS=${2:-60}
[ -f "$top/target/tunshape.jar" ] || (cd "$top" && mvn -B -q -DskipTests package)
D=$(mktemp -d); NS=tsadapt$$
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
            ip netns del "$NS" 2>/dev/null || true; rm -rf "$D"; }
trap cleanup EXIT INT TERM
MEAN=$(awk 'END {printf "%d", NR * 1500 * 8 / ($1 / 1000)}' "$TRACE")
LAT_MS=500
cat > "$D/link.yaml" <<Y
name: link
description: the trace's link
source: bench
link: {rate: ${MEAN}bit}
shaping: {mode: latency, latency: ${LAT_MS}ms, txqueuelen: ${TXQ:-auto}}
adaptive: {min_rate: $((MEAN / ${MINDIV:-10}))bit, max_rate: $((MEAN * 8))bit, headroom: 5%}
Y
cat > "$D/tunshape.yaml" <<Y
report_socket: $D/report.sock
control_socket: $D/control.sock
interfaces:
  - {match: t0, netns: "$NS", profile: $D/link.yaml, adaptive: true}
control: {smoothing: ${SMOOTH:-50%}, min_interval: ${MININT:-500ms}, stale_after: 5s, drain: ${DRAIN:-1s}}
Y
ip netns add "$NS"; ip -n "$NS" link set lo up
ip netns exec "$NS" sysctl -q -w net.ipv6.conf.default.disable_ipv6=1

run() { # $1 = label, $2 = none|static|adaptive
    ip -n "$NS" link del t0 2>/dev/null || true
    ip -n "$NS" tuntap add dev t0 mode tun
    ip -n "$NS" addr add 198.18.0.1 peer 198.18.0.2 dev t0
    ip -n "$NS" link set t0 up
    ip -n "$NS" link set t0 txqueuelen 100
    case "$2" in
        static) "$top/bin/tunshape" --netns "$NS" apply t0 -p "$D/link.yaml" >/dev/null 2>&1 ;;
        adaptive) "$top/bin/tunshape" daemon --config "$D/tunshape.yaml" 2>"$D/daemon.log" & pids+=($!)
                  sleep 2 ;;
    esac
    "$top/bin/tunshape" --netns "$NS" pump --dev t0 --backend udp:127.0.0.1:9100 --listen 127.0.0.1:9101 \
        --emulate-trace "$TRACE" --report "$D/report.sock" --report-interval ${REPORT:-500ms} 2>"$D/pump.log" & local pump=$!
    pids+=($pump)
    sleep 1.5
    ip netns exec "$NS" /usr/bin/python3 - "$SECS" "$TRACE" "$1" <<'PY'
import socket, struct, sys, threading, time
secs, trace, label = float(sys.argv[1]), sys.argv[2], sys.argv[3]
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); rx.bind(("127.0.0.1", 9100)); rx.settimeout(0.5)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
waits, got = [], [0, 0]
stop = False
def receive():
    while not stop:
        try:
            f = rx.recv(65536)
        except socket.timeout:
            continue
        if len(f) >= 28 + 16 and f[9] == 17:
            t = struct.unpack_from("!d", f, 28 + 8)[0]
            waits.append(time.time() - t); got[0] += 1; got[1] += len(f)
th = threading.Thread(target=receive); th.start()
start = time.time(); sent = 0
payload = bytearray(1472)
# offer 3x the trace's mean rate: the link is saturated whenever it has capacity
ops = [int(l) for l in open(trace) if l.strip()]
mean_bps = len(ops) * 1500 * 8 / (ops[-1] / 1000)
pps = max(50, 3 * mean_bps / (1500 * 8))
while time.time() - start < secs:
    struct.pack_into("!qd", payload, 0, sent, time.time())
    tx.sendto(payload, ("198.18.0.2", 9))
    sent += 1
    time.sleep(max(0, start + sent / pps - time.time()))
time.sleep(2)
stop = True; th.join()
waits.sort()
p95 = waits[int(len(waits) * 0.95)] * 1000 if waits else float("nan")
# the trace's capacity over the run (the pump started about 1.5 s before the sender)
lo, hi = 1500, 1500 + secs * 1000
period = ops[-1]
cap = sum(1 for k in range(int(hi // period) + 1) for o in ops if lo <= k * period + o < hi) * 1500
with open("/tmp/tsadapt-%s.txt" % label.replace(" ", "_"), "w") as out:
    out.write("%d %d %d %.1f %d\n" % (sent, got[0], got[1], p95, cap))
PY
    local tun_drop
    tun_drop=$(ip -n "$NS" -s link show t0 | awk '/TX:/ {getline; print $4}')
    kill "$pump" 2>/dev/null || true
    [ "$2" = adaptive ] && { kill "${pids[-2]}" 2>/dev/null || true; }
    wait 2>/dev/null || true
    pids=()
    read -r sent got bytes p95 cap < "/tmp/tsadapt-${1// /_}.txt"; rm -f "/tmp/tsadapt-${1// /_}.txt"
    awk -v l="$1" -v s="$sent" -v g="$got" -v b="$bytes" -v p="$p95" -v c="$cap" -v d="$tun_drop" 'BEGIN {
        printf "| %-22s | %9d | %9d | %6.1f %% | %7d (%5.2f %%) | %8.0f ms |\n", l, s, g, 100 * b / c, d, 100 * d / s, p }'
}
echo "trace $(basename "$TRACE"), mean $MEAN bit/s, $SECS s per row, profile latency $LAT_MS ms"
echo "| set-up                 |   sent    | delivered | utilised | dropped at tun    | p95 wait   |"
echo "| ---------------------- | --------- | --------- | -------- | ----------------- | ---------- |"
for r in ${ROWS:-adaptive static none}; do
    case "$r" in
        adaptive) run "daemon, adaptive" adaptive ;;
        static) run "static at the mean" static ;;
        none) run "no shaping" none ;;
    esac
done
