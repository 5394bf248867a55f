#!/usr/bin/env bash
# Adaptation on a Mahimahi trace: a pump emulating the trace behind tun t0 (frames go over UDP to
# a receiver that timestamps them), a UDP sender saturating t0, and three set-ups in the same run:
# the daemon adapting the rate to the pump's reports, static shaping at the trace's mean rate, and
# no shaping. Prints utilisation (delivered / trace capacity over the run), drops at tun, and the
# 95th-percentile wait in the qdisc, in the qdisc and tun's ring, and from send to the backend.
# Utilisation is the bytes the pump delivered over what the trace's opportunities could carry in the
# same intervals of the pump's statistics (from the first that carried anything, for SECONDS).
# Usage (as root): [TXQ=N] bench/adapt-trace.sh [TRACE] [SECONDS]   needs python3 and a built jar
# TXQ sets the profile's txqueuelen (default auto: about one second of frames), MINDIV its min_rate as
# the mean / MINDIV (default 10), SMOOTH, MININT, DRAIN and RING the daemon's smoothing, min_interval, drain and ring_target
# (50%, 150ms, 1s, 300ms), REPORT the pump's report interval (200ms); ROWS picks the set-ups (default: adaptive static none);
# LOGS=DIR keeps each row's pump statistics (JSON lines) and the daemon's log there.
# FIGS=DIR (default target/figures) gets one SVG timeline per set-up, TRACE-SETUP.svg: the trace's
# capacity against the shaping rate, the qdisc's backlog, and each datagram's wait (drawn by
# io.tunshape.plot.TraceFigure from the jar). Progress goes to stderr, the table to stdout.
# SMALL=1 (CI, bench/*.sh's small mode): the adaptive row alone for 4 s on a made-up trace (1 Mbit/s,
# then 2.4 Mbit/s from 2 s on) unless TRACE is given, and exit 1 unless datagrams were sent and
# delivered, the utilisation is a number above 0.3, the daemon accepted reports and changed the
# rate, and the figure was written.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
SMALL=${SMALL:-0}
D=$(mktemp -d); NS=tsadapt$$
if [ "$SMALL" = 1 ]; then
    { for ((ms = 12; ms <= 2000; ms += 12)); do echo $ms; done
      for ((ms = 2005; ms <= 6000; ms += 5)); do echo $ms; done; } > "$D/steps.up"
    TRACE=${1:-$D/steps.up}; SECS=${2:-4}; ROWS=${ROWS:-adaptive}
else
    TRACE=${1:-$top/../shared/traces/TMobile-UMTS-driving.up}; SECS=${2:-60}
fi
[ -f "$top/target/tunshape.jar" ] || (cd "$top" && mvn -B -q -DskipTests package)
FIGS=${FIGS:-$top/target/figures}
mkdir -p "$FIGS"
failures=0
fail() { echo "adapt-trace: FAILED: $*" >&2; failures=$((failures + 1)); }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
            ip netns del "$NS" 2>/dev/null || true; rm -rf "$D"; }
trap cleanup EXIT
trap 'exit 130' INT   # through the EXIT trap: a signal ends the run, after the cleanup
trap 'exit 143' TERM
MEAN=$(awk 'END {printf "%d", NR * 1500 * 8 / ($1 / 1000)}' "$TRACE")
OFFER=$(/usr/bin/python3 "$top/bench/adapt-trace.py" offer "$TRACE" "$SECS")
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
control: {smoothing: ${SMOOTH:-50%}, min_interval: ${MININT:-150ms}, stale_after: 5s, drain: ${DRAIN:-1s}, ring_target: ${RING:-300ms}}
Y
ip netns add "$NS"; ip -n "$NS" link set lo up
ip netns exec "$NS" sysctl -q -w net.ipv6.conf.default.disable_ipv6=1

wait_for() { # $1 = what, then a command: try it every 0.1 s for up to 30 s (a loaded machine starts JVMs slowly)
    local what=$1; shift
    for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "adapt-trace: FAILED: $what did not happen within 30 s" >&2
    { echo "--- tc qdisc show dev t0:"; tc -n "$NS" qdisc show dev t0; } >&2 || true
    for f in "$D/daemon.log" "$D/pump.log"; do [ -s "$f" ] && { echo "--- $f:"; tail -20 "$f"; } >&2; done
    exit 1
}
# (whole outputs matched, not through grep -q: with pipefail, grep leaving early fails the pipe)
shaped() { [[ $(tc -n "$NS" qdisc show dev t0) == *" 747"[34]": root"* ]]; }   # tunshape's tbf or htb root
attached() { [[ $(ip -n "$NS" link show t0) != *NO-CARRIER* ]]; }   # tun has a reader: the pump
run() { # $1 = label, $2 = none|static|adaptive, $3 = "row N of M"
    echo "adapt-trace: $3: $1 ($SECS s of sending)" >&2
    ip -n "$NS" link del t0 2>/dev/null || true
    ip -n "$NS" tuntap add dev t0 mode tun
    ip -n "$NS" addr add 198.18.0.1 peer 198.18.0.2 dev t0
    ip -n "$NS" link set t0 up
    ip -n "$NS" link set t0 txqueuelen 100
    case "$2" in
        static) "$top/bin/tunshape" --netns "$NS" apply t0 -p "$D/link.yaml" >/dev/null 2>&1 ;;
        adaptive) "$top/bin/tunshape" daemon --config "$D/tunshape.yaml" 2>"$D/daemon.log" & pids+=($!)
                  sleep 2; wait_for "the daemon shaping t0" shaped ;;
    esac
    "$top/bin/tunshape" --netns "$NS" pump --dev t0 --backend udp:127.0.0.1:9100 --listen 127.0.0.1:9101 \
        --emulate-trace "$TRACE" --report "$D/report.sock" --report-interval ${REPORT:-200ms} --stats --json 2>"$D/pump.log" & local pump=$!
    pids+=($pump)
    wait_for "the pump attaching to t0" attached
    sleep 1.5
    ROW_LABEL="$1" ip netns exec "$NS" /usr/bin/python3 "$top/bench/adapt-trace.py" "$SECS" "$TRACE" t0 "$D/row.txt" \
        "$OFFER" "$D/pump.log" "$D/series.txt"
    local tun_drop q_drop
    tun_drop=$(ip -n "$NS" -s link show t0 | awk '/TX:/ {getline; print $4}')
    q_drop=$(tc -n "$NS" -s qdisc show dev t0 | awk '/ root / {getline; sub(",", "", $7); print $7; exit}')
    if [ "$SMALL" = 1 ] && [ "$2" = adaptive ]; then
        local st
        st=$("$top/bin/tunshape" status --json --socket "$D/control.sock") || fail "tunshape status did not answer"
        echo "$st" | /usr/bin/python3 -c 'import json, sys
d = json.load(sys.stdin); i = [x for x in d["interfaces"] if x["dev"] == "t0"]
sys.exit(0 if d["reports"]["accepted"] > 0 and i and i[0]["changes"] > 0 else 1)' \
            || fail "the daemon accepted no report or changed no rate: $st"
    fi
    kill "$pump" 2>/dev/null || true
    [ "$2" = adaptive ] && { kill "${pids[-2]}" 2>/dev/null || true; }
    wait 2>/dev/null || true
    pids=()
    if [ -n "${LOGS:-}" ]; then mkdir -p "$LOGS"; cp "$D/pump.log" "$LOGS/pump-$2.log"; cp "$D/daemon.log" "$LOGS/daemon.log" 2>/dev/null || true; fi
    read -r sent got bytes pq pr pe < "$D/row.txt"
    local util
    util=$(/usr/bin/python3 "$top/bench/adapt-trace.py" utilisation "$D/pump.log" "$TRACE" "$SECS" | cut -d' ' -f1)
    local row
    row=$(awk -v l="$1" -v s="$sent" -v g="$got" -v u="$util" -v pq="$pq" -v pr="$pr" -v pe="$pe" -v d="$tun_drop" -v qd="${q_drop:-0}" 'BEGIN {
        printf "| %-18s | %6d | %6d | %6.1f %% | %6d (%5.2f %%) | %6d | %7.0f ms | %7.0f ms | %7.0f ms |\n",
               l, s, g, 100 * u, d, 100 * d / s, qd, pq, pr, pe }')
    echo "$row"
    local fig sub
    fig="$FIGS/$(basename "$TRACE" .up)-$2.svg"
    sub=$(awk -v u="$util" -v d="$tun_drop" -v s="$sent" -v pq="$pq" -v pe="$pe" 'BEGIN {
        printf "utilised %.1f %%, dropped at tun %d of %d, p95 wait in the qdisc %.0f ms, send to receiver %.0f ms", 100 * u, d, s, pq, pe }')
    java -cp "$top/target/tunshape.jar" io.tunshape.plot.TraceFigure "$D/series.txt" "$fig" \
        "$(basename "$TRACE" .up), $1 (mean $MEAN bit/s, offered $OFFER bit/s)" "$sub"
    echo "adapt-trace: figure $fig" >&2
    if [ "$SMALL" = 1 ]; then
        [ "$sent" -gt 0 ] && [ "$got" -gt 0 ] || fail "$1: sent $sent, delivered $got"
        awk -v u="$util" 'BEGIN { exit !(u + 0 > 0.3) }' || fail "$1: utilisation $util (at most 0.3, or not a number)"
        grep -q '<svg' "$fig" || fail "$1: no figure in $fig"
    fi
}
echo "trace $(basename "$TRACE"), mean $MEAN bit/s, offered $OFFER bit/s, $SECS s per row, profile latency $LAT_MS ms"
echo "|                    |        |        |          |                  | qdisc  | p95 wait                            |"
echo "| set-up             |  sent  | deliv. | utilised | dropped at tun   | drops  | in qdisc   | qdisc+ring | send to rx |"
echo "| ------------------ | ------ | ------ | -------- | ---------------- | ------ | ---------- | ---------- | ---------- |"
rows=(${ROWS:-adaptive static none}); i=0
for r in "${rows[@]}"; do
    i=$((i + 1))
    case "$r" in
        adaptive) run "daemon, adaptive" adaptive "row $i of ${#rows[@]}" ;;
        static) run "static, the mean" static "row $i of ${#rows[@]}" ;;
        none) run "no shaping" none "row $i of ${#rows[@]}" ;;
    esac
done
[ "$failures" -eq 0 ] || { echo "adapt-trace: $failures check(s) failed" >&2; exit 1; }
