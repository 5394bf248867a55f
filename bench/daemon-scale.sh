#!/usr/bin/env bash
# The daemon at emulator scale. For each N (default 10 100 1000): N network namespaces, half named
# (ip netns add) and half unnamed (a process that unshares its own, as CORE's vnoded and Mininet's
# mnexec do), the daemon started with one rule (netns: "*", a device name only this run uses), then a
# tap made in each at RATE a second (default 200); then 3000 taps in one namespace (TAPS=0 skips it).
# Prints per N: creation to shaped per device (p50, p99, max, from the kernel's tc events), the
# time until all were shaped, threads, resident memory 10 s after, the daemon's CPU over 30 s of
# idling (IDLE=s), and how long SIGTERM took to put everything back (checked in a sample).
# Usage (as root): [RATE=200] [IDLE=30] [TAPS=3000] bench/daemon-scale.sh [N...]
# SMALL=1 (CI, bench/*.sh's small mode): N=4 (two named, two unnamed), IDLE=2, TAPS=20, 1 s instead
# of 10 before the memory is read. In every mode the script exits 1 at the end if a device was left
# unshaped, the daemon did not start, or SIGTERM did not put a sample back.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$top/target/tunshape.jar" ] || (cd "$top" && mvn -B -q -DskipTests package)
SMALL=${SMALL:-0}
if [ "$SMALL" = 1 ]; then DEFAULT_N=4; IDLE=${IDLE:-2}; TAPS=${TAPS:-20}; SETTLE=1
else DEFAULT_N="10 100 1000"; IDLE=${IDLE:-30}; TAPS=${TAPS:-3000}; SETTLE=10; fi
RATE=${RATE:-200}
NS_LIST=("${@:-$DEFAULT_N}"); read -r -a NS_LIST <<<"${NS_LIST[*]}"
failures=0
shaped_all() { # $1 = label; reads daemon-scale.py's JSON line, prints it with the label, counts unshaped devices
  local line; line=$(cat); echo "$1: $line"
  echo "$line" | python3 -c 'import json, sys; d = json.loads(sys.stdin.read()); sys.exit(0 if d["devices"] > 0 and d["unshaped"] == 0 else 1)' \
    || { echo "$1: FAILED: not every device was shaped" >&2; failures=$((failures + 1)); }
}
TAG=zs$(( $$ % 10000 )); D=$(mktemp -d); P=""; PIDS=(); NAMED=()
hz=$(getconf CLK_TCK)
cleanup() {
  [ -n "$P" ] && kill "$P" 2>/dev/null && wait "$P" 2>/dev/null || true
  [ ${#PIDS[@]} -gt 0 ] && kill "${PIDS[@]}" 2>/dev/null || true
  if [ ${#NAMED[@]} -gt 0 ]; then printf 'netns del %s\n' "${NAMED[@]}" | ip -force -batch - 2>/dev/null || true; fi
  PIDS=(); NAMED=(); P=""
}
trap 'cleanup; rm -rf "$D"' EXIT
trap 'exit 130' INT   # through the EXIT trap: a signal ends the run, after the cleanup
trap 'exit 143' TERM
config() {
  cat > "$D/tunshape.yaml" <<Y
report_socket: $D/report.sock
control_socket: $D/control.sock
interfaces:
  - {match: "$TAG*", netns: "*", profile: ax25-9600-g3ruh}
Y
}
start_daemon() {
  "$top/bin/tunshape" daemon --config "$D/tunshape.yaml" 2>"$D/log" & P=$!
  for _ in $(seq 600); do grep -q "running with" "$D/log" 2>/dev/null && return; sleep 0.1; done
  echo "the daemon did not start:"; cat "$D/log"; exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
report() {   # N label
  sleep "$SETTLE"
  local rss threads t0 t1 c0 c1 restore
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$P/status")
  mem=$("$top/bin/tunshape" status --json --socket "$D/control.sock" | python3 -c 'import json,sys; d=json.load(sys.stdin); m=d["memory"]; print("heap %.1f MiB used, direct %.2f MiB; %d namespaces on the host, %d process events read" % (m["heap_used_bytes"]/2**20, m["direct_bytes"]/2**20, d["discovery"]["host_namespaces"], d["discovery"]["process_events"]))')
  c0=$(cpu_ticks "$P"); sleep "$IDLE"; c1=$(cpu_ticks "$P")
  threads=$(awk '/Threads/ {print $2}' "/proc/$P/status")
  t0=$(date +%s.%N); kill -TERM "$P"; wait "$P" || true; t1=$(date +%s.%N); P=""
  restore=$(echo "$t1 - $t0" | bc)
  printf '%s: threads %s (after the idle period), RSS %s kB after %s s (%s), idle CPU %.2f %% of a core over %s s, SIGTERM restore %.2f s\n' \
    "$2" "$threads" "$rss" "$SETTLE" "$mem" "$(echo "($c1 - $c0) * 100 / $hz / $IDLE" | bc -l)" "$IDLE" "$restore"
}
uptime
config
for N in "${NS_LIST[@]}"; do
  half=$((N / 2)); paths=()
  for i in $(seq 1 $half); do NAMED+=("$TAG-$N-$i"); done
  printf 'netns add %s\n' "${NAMED[@]}" | ip -batch -
  for n in "${NAMED[@]}"; do paths+=("/run/netns/$n"); done
  for i in $(seq 1 $((N - half))); do unshare --net sleep 100000 & PIDS+=($!); done
  sleep 0.5
  for p in "${PIDS[@]}"; do paths+=("/proc/$p/ns/net"); done
  start_daemon
  echo "N=$N: $(grep -c 'selected' "$D/log") namespaces selected at start; $(grep 'warmed\|process events' "$D/log" || true)"
  out=$(python3 "$top/bench/daemon-scale.py" "${TAG}t" "$RATE" 30 "${paths[@]}"); shaped_all "N=$N" <<<"$out"
  report "$N" "N=$N"
  # SIGTERM put things back: a sample of each kind holds no tunshape qdisc (whole outputs matched:
  # with pipefail, grep -q leaving early could fail the pipe and hide a qdisc left behind)
  if [[ $(tc -n "${NAMED[0]}" qdisc show dev "${TAG}t") == *7473:* ]]; then echo "N=$N: NOT put back in ${NAMED[0]}"; failures=$((failures + 1)); fi
  if [[ $(nsenter -t "${PIDS[0]}" -n tc qdisc show dev "${TAG}t") == *7473:* ]]; then echo "N=$N: NOT put back in pid ${PIDS[0]}"; failures=$((failures + 1)); fi
  cleanup
done
if [ "$TAPS" != 0 ]; then
  NAMED=("$TAG-taps"); ip netns add "${NAMED[0]}"
  start_daemon
  out=$(python3 "$top/bench/daemon-scale.py" "${TAG}" "$RATE" 60 "/run/netns/${NAMED[0]}" --count "$TAPS")
  shaped_all "$TAPS taps in one namespace" <<<"$out"
  report "$TAPS" "$TAPS taps in one namespace"
  cleanup
fi
uptime
[ "$failures" -eq 0 ] || { echo "daemon-scale: $failures check(s) failed" >&2; exit 1; }
