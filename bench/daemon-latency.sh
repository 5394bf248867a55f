#!/usr/bin/env bash
# The daemon: from a report's arrival to the kernel holding the new rate, over N reports alternating
# between two capacities, GAP ms apart (default 20: pumps report every 100-200 ms, so the daemon is
# idle when one comes; GAP=0 sends the next as soon as the last change shows); the daemon's resident
# memory right after them and 10 s later; its CPU when idle. Usage (as root):
#   [GAP=ms] [SENDER_NICE=19] [POLICY=normal|deadline] [LOAD=k] [SERVED=m] [SMALL=1] bench/daemon-latency.sh [N]
# SMALL=1: 50 reports 5 ms apart, no idle phase (about 15 s); exits non-zero when a figure is missing.
# In the same run, the yardstick: `tc -batch` making the same change (the htb class's rate and its
# bfifo leaf's limit) N times on a tap beside it that the daemon does not serve, per change (the
# batch of N less a batch of 1, over N - 1: tc's own start left out; the fastest of three of each),
# and the daemon's p50 and p99 over it; also the daemon's own part (from its report thread's recvmsg
# returning to the ack: status's handled_p50_us/handled_p99_us), which leaves out the scheduler's
# wake-up of that thread. And the floor under both, where cc and strace are installed (not with
# SMALL=1): the same change made by bench/latency-floor.c, a C reader of 1-byte datagrams GAP ms apart
# that sends tc's own bytes for each (one datagram, one ACK), beside the same daemon. What the tail
# was: the JVM's pauses (GC and safepoints, -Xlog) that fell within a slow change, and the report
# thread's involuntary context switches (another task took its CPU); and which changes came first
# after one of DAMON's sampling rounds (bench/lib/damon.sh: the kernel's tracer records when kdamond
# ran), which on this project's VM make the daemon's first wake-up after them slower in proportion to
# its resident memory (bench/damon-tail.sh; docs/daemon.md).
# POLICY is the daemon's report_scheduling policy; LOAD=k keeps k CPUs busy (k shell loops, stopped
# after the reports or at most 120 s) while the reports go. SERVED=m has the daemon serve m more
# namespaces meanwhile (half named, half unnamed: processes that unshared theirs), each with a
# shaped tap, to show that a report's path does not grow with them.
# Two figures for each change:
# - the daemon's own (the target's measure): from the datagram's arrival at its socket (the kernel's
#   SO_TIMESTAMPNS stamp) to the kernel's ack of the class change, from `tunshape status`;
# - the sender's: from its sendto to the RTM_NEWTCLASS event reaching it in the namespace. The sender
#   runs at nice 19: its wake-up for that event must not take the CPU from the daemon, which is still
#   sending the change's bfifo message then (at nice 0 it did, for up to 2 ms, in the scheduler's trace).
set -euo pipefail
SMALL=${SMALL:-0}
if [ "$SMALL" = 1 ]; then N=${1:-50}; GAP=${GAP:-5}; else N=${1:-500}; GAP=${GAP:-20}; fi   # GAP: ms between reports
SENDER_NICE=${SENDER_NICE:-19}
POLICY=${POLICY:-normal}
LOAD=${LOAD:-0}
SERVED=${SERVED:-0}
EXTRA=(); EXTRA_PIDS=()
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib/damon.sh"
[ -f "$top/target/tunshape.jar" ] || (cd "$top" && mvn -B -q -DskipTests package)
NS=tslat$$; D=$(mktemp -d)
HOGS=""
cleanup() { damon_trace_stop /dev/null 2>/dev/null || true; [ -n "$HOGS" ] && kill $HOGS 2>/dev/null || true; [ -n "${P:-}" ] && kill "$P" 2>/dev/null || true
  [ ${#EXTRA_PIDS[@]} -gt 0 ] && kill "${EXTRA_PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true
  if [ ${#EXTRA[@]} -gt 0 ]; then printf 'netns del %s\n' "${EXTRA[@]}" | ip -force -batch - 2>/dev/null || true; fi
  ip netns del "$NS" 2>/dev/null || true; rm -rf "$D"; }
trap cleanup EXIT
trap 'exit 130' INT   # through the EXIT trap: a signal ends the run, after the cleanup
trap 'exit 143' TERM
ip netns add "$NS"; ip -n "$NS" tuntap add dev tap0 mode tap; ip -n "$NS" tuntap add dev ytap0 mode tap
if [ "$SERVED" -gt 0 ]; then
  for i in $(seq 1 $((SERVED / 2))); do EXTRA+=("$NS-x$i"); done
  printf 'netns add %s\n' "${EXTRA[@]}" | ip -batch -
  for n in "${EXTRA[@]}"; do ip -n "$n" tuntap add dev lat0 mode tap; done
  for i in $(seq 1 $((SERVED - SERVED / 2))); do
    unshare --net sh -c 'ip tuntap add dev lat0 mode tap; exec sleep 100000' & EXTRA_PIDS+=($!)
  done
fi
cat > "$D/lat.yaml" <<Y
name: lat
description: latency test link
source: test
link: {rate: 1mbit}
shaping: {mode: latency, latency: 200ms}
adaptive: {min_rate: 100kbit, max_rate: 10mbit, headroom: 0%}
Y
cat > "$D/tunshape.yaml" <<Y
report_socket: $D/report.sock
control_socket: $D/control.sock
interfaces:
  - {match: "tap*", netns: "$NS", profile: $D/lat.yaml, adaptive: true}
  - {match: "lat0", netns: "*", profile: ax25-9600-g3ruh}
control: {min_interval: 0s, stale_after: 60s, smoothing: 100%}
report_scheduling: {policy: $POLICY}
Y
JDK_JAVA_OPTIONS="-Xlog:gc,safepoint:file=$D/jvm.log:timenanos" \
  "$top/bin/tunshape" daemon --config "$D/tunshape.yaml" 2>"$D/log" & P=$!
# ready: the device shaped, and the daemon running (after it has warmed up its report path)
for _ in $(seq 300); do grep -q "shaped with" "$D/log" 2>/dev/null && grep -q "running with" "$D/log" && break; sleep 0.1; done
grep -q "running with" "$D/log" || { echo "the daemon did not start:"; cat "$D/log"; exit 1; }
grep -E "warmed up|report thread" "$D/log" || true
# the yardstick's device: the same tree, made by apply (the daemon's rules do not match ytap0)
"$top/bin/tunshape" --netns "$NS" apply ytap0 --qdisc htb --rate 1mbit --latency 200ms >/dev/null
# the report thread's involuntary context switches: another task took its CPU
rtid=$(grep -l '^reports$' /proc/$P/task/*/comm | head -1 | cut -d/ -f5)
ivcs() { awk '/^nonvoluntary_ctxt_switches/ {print $2}' "/proc/$P/task/$rtid/status"; }
iv0=$(ivcs)
if [ "$SERVED" -gt 0 ]; then
  for _ in $(seq 300); do
    [ "$(grep -c 'lat0: shaped with' "$D/log")" -ge "$SERVED" ] && break; sleep 0.2
  done
  echo "serving $(grep -c 'lat0: shaped with' "$D/log") more namespaces with a shaped tap each; threads $(awk '/Threads/ {print $2}' /proc/$P/status)"
fi
damon_describe
: >"$D/damon"
damon_trace_start daemon-latency || echo "the changes are not split by DAMON's rounds: $DAMON_WHY"
for _ in $(seq "$LOAD"); do timeout 120 sh -c 'while :; do :; done' & HOGS="$HOGS $!"; done
ip netns exec "$NS" nice -n "$SENDER_NICE" /usr/bin/python3 - "$D/report.sock" "$NS" "$N" "$GAP" "$D/sent" <<'PY'
import json, socket, struct, sys, time
path, ns, n, gap, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]) / 1000, sys.argv[5]
starts = []
nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
nl.bind((0, 8))                       # RTMGRP_TC: qdisc and class events in this namespace
nl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
rep = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
lat = []
for i in range(n):
    cap = 2_000_000 if i % 2 == 0 else 3_000_000
    msg = json.dumps({"v": 1, "dev": "tap0", "netns": ns, "interval_ms": 100, "tx_bytes": 1,
                      "busy_ms": 100, "capacity_bps": cap}).encode()
    time.sleep(gap)                   # reports come apart, as from pumps; the last change is done
    nl.setblocking(False)
    try:
        while nl.recv(65536):
            pass
    except BlockingIOError:
        pass
    nl.setblocking(True)
    nl.settimeout(2)
    t0 = time.perf_counter()
    starts.append(time.clock_gettime(time.CLOCK_MONOTONIC))   # the JVM log's clock (System.nanoTime)
    rep.sendto(msg, path)
    while True:
        data = nl.recv(65536)
        if struct.unpack_from("=H", data, 4)[0] == 40:   # RTM_NEWTCLASS
            break
    lat.append((time.perf_counter() - t0) * 1000)
def summary(xs):
    xs = sorted(xs)
    return "p50 %.3f ms, p99 %.3f ms, max %.3f ms" % (xs[len(xs) // 2], xs[-(len(xs) // 100) - 1], xs[-1])
print("seen from the sender: its sendto to the class event reaching it, %d changes: %s" % (n, summary(lat)))
with open(out + ".offset", "w") as f:   # CLOCK_REALTIME less CLOCK_MONOTONIC, right after the reports
    f.write(repr(time.time() - time.clock_gettime(time.CLOCK_MONOTONIC)))
with open(out, "w") as f:
    for t, l in zip(starts, lat):   # when each was sent (s, CLOCK_MONOTONIC) and what it took (ms)
        f.write("%.6f %.3f\n" % (t, l))
PY
if [ -n "$HOGS" ]; then kill $HOGS 2>/dev/null || true; wait $HOGS 2>/dev/null || true; HOGS=""; fi
damon_trace_stop "$D/damon"
iv1=$(ivcs)
echo "the daemon's own figure, from the report's arrival (the socket's kernel stamp) to the kernel's ack:"
"$top/bin/tunshape" status --socket "$D/control.sock" | tail -1
"$top/bin/tunshape" status --socket "$D/control.sock" --json >"$D/status.json"
# the yardstick: tc -batch, the same class change and leaf change, alternating rates as the reports do
changes() {  # $1 changes, in tc -batch's words: the htb class's rate and its leaf's limit, two rates in turn
  for i in $(seq 1 "$1"); do
    if [ $((i % 2)) = 0 ]; then r=2000000; else r=3000000; fi
    echo "class change dev ytap0 parent 7474: classid 7474:1 htb rate ${r}bit ceil ${r}bit burst 1600b cburst 1600b"
    echo "qdisc change dev ytap0 parent 7474:1 handle 7501: bfifo limit $((r / 8 / 5 + 1600))"
  done
}
yard() {  # $1 changes -> seconds for one `tc -batch` of them
  changes "$1" >"$D/batch"
  local a b; a=$(date +%s%N); ip netns exec "$NS" tc -batch "$D/batch"; b=$(date +%s%N); echo $((b - a))
}
# the least disturbed of three batches each (other tasks on a loaded machine only ever add time)
one=; all=
for _ in 1 2 3; do
  a=$(yard 1); b=$(yard "$N")
  { [ -z "$one" ] || [ "$a" -lt "$one" ]; } && one=$a
  { [ -z "$all" ] || [ "$b" -lt "$all" ]; } && all=$b
done
# the floor: the same change made by a C reader with nothing else to do (bench/latency-floor.c), from
# tc's own bytes (strace), after the daemon's reports and beside the same daemon; needs cc and strace
: >"$D/floor"
if [ "$SMALL" = 1 ]; then
  echo "C floor: not measured with SMALL=1" >"$D/floor"
elif command -v cc >/dev/null && command -v strace >/dev/null; then
  cc -O2 -o "$D/latency-floor" "$top/bench/latency-floor.c"
  changes 2 >"$D/pair"
  ip netns exec "$NS" strace -xx -e trace=sendmsg -e write=3 -o "$D/strace" tc -batch "$D/pair"
  python3 - "$D/strace" "$D/pair.bin" <<'PY'
import sys
msgs, cur = [], None
for line in open(sys.argv[1]):   # strace's hex dump of each sendmsg on fd 3, tc's netlink socket
    if "sendmsg(" in line:
        cur = bytearray(); msgs.append(cur)
    elif line.startswith(" | ") and cur is not None:
        cur.extend(bytes.fromhex(line[10:59].replace(" ", "")))
if len(msgs) != 4:
    sys.exit("tc sent %d messages, not 4" % len(msgs))
open(sys.argv[2], "wb").write(b"".join(msgs))
PY
  ip netns exec "$NS" "$D/latency-floor" "$N" "$GAP" "$D/pair.bin" >"$D/floor"
else
  echo "C floor: not measured (needs cc and strace)" >"$D/floor"
fi
python3 - "$D/status.json" "$D/sent" "$D/jvm.log" "$N" "$one" "$all" "$((iv1 - iv0))" "$D/floor" "$D/damon" "$GAP" <<'PY'
import json, re, sys, time
st, sent, jvm, n, one, alln, iv, floor, damon = sys.argv[1:10]
n, one, alln, iv = int(n), int(one), int(alln), int(iv)
c = json.load(open(st))["changes"]
p50, p99, cnt = c["p50_us"], c["p99_us"], c["count"]
tc = (alln - one) / (n - 1) / 1000.0
if cnt < n // 2 or tc <= 0:
    sys.exit("missing figures: %d changes, tc %.1f us" % (cnt, tc))
h50, h99 = c.get("handled_p50_us"), c.get("handled_p99_us")
if h50 is None or h99 is None:
    sys.exit("missing figures: the daemon's handled_p50_us/handled_p99_us")
print("| changes | daemon p50 | daemon p99 | tc -batch per change | p50 / tc | p99 / tc |")
print("| %d | %d us | %d us | %.1f us | %.1fx | %.1fx |" % (cnt, p50, p99, tc, p50 / tc, p99 / tc))
print("the daemon's own part, from its recvmsg returning to the ack (the scheduler's wake-up of the report "
      "thread left out): p50 %d us (%.1fx tc), p99 %d us (%.1fx tc)" % (h50, h50 / tc, h99, h99 / tc))
print("the controllers' changes: " + ", ".join("%s %d" % kv for kv in c["outcomes"].items()))
f = re.findall(r"p50 (\d+) us, p99 (\d+) us", open(floor).read())
if len(f) == 2:
    (a50, a99), (o50, o99) = [(int(x), int(y)) for x, y in f]
    print("the C floor (bench/latency-floor.c, the same change by a C reader with nothing else to do): from arrival "
          "p50 %d us (%.1fx tc), p99 %d us (%.1fx tc); from its recvmsg returning p50 %d us (%.1fx tc), p99 %d us (%.1fx tc)"
          % (a50, a50 / tc, a99, a99 / tc, o50, o50 / tc, o99, o99 / tc))
else:
    print(open(floor).read().strip() or "C floor: no figures")
# what the tail was: the JVM's pauses (safepoints: GC among them) that overlap the slowest changes
pauses = []   # (start, end) in s of CLOCK_MONOTONIC
for line in open(jvm):
    if line.split("] ", 1)[-1].startswith("Safepoint") and "Total: " in line:
        end = int(line[1:line.index("ns]")]) / 1e9
        pauses.append((end - int(line.rsplit("Total: ", 1)[1].split()[0]) / 1e9, end))
xs = [tuple(map(float, l.split())) for l in open(sent)]
slow = sorted(xs, key=lambda x: -x[1])[:max(1, len(xs) // 100)]
hit = sum(1 for t, l in slow if any(a <= t + l / 1000 and b >= t for a, b in pauses))
during = [(a, b) for a, b in pauses if xs[0][0] <= a <= xs[-1][0] + xs[-1][1] / 1000]
print("tail: the slowest %d changes (the sender's view) took %.2f-%.2f ms; the JVM paused %d times during the "
      "run (%.2f ms at most), %d of them within a slowest change; the report thread was preempted %d times "
      "(involuntary context switches)" % (len(slow), slow[-1][1], slow[0][1], len(during),
      max([(b - a) * 1000 for a, b in during] or [0]), hit, iv))
# DAMON: a change is first after a sampling round when a round (bench/lib/damon.sh) came between the
# change before's end and its own end (the sender's records); the daemon's slowest changes (status's
# changes.slowest, with their reports' arrival) are matched to those records by time, and the daemon's
# p99 is given again without the changes first after a round (its quantiles: the ceil(q n)-th smallest)
runs = sorted(float(l) for l in open(damon) if l.strip())
if not runs:
    print("DAMON: no sampling round seen during the reports (off, not traced, or none in their time)")
else:
    import datetime
    after, j, prev = [], 0, xs[0][0]
    for t, l in xs:
        end = t + l / 1000
        while j < len(runs) and runs[j] <= prev:
            j += 1
        after.append(j < len(runs) and runs[j] <= end)
        prev = end
    offset = float(open(sent + ".offset").read())          # epoch s - this = CLOCK_MONOTONIC s
    near = max(0.0005, min(0.005, float(sys.argv[10]) / 2000))  # s: half the gap between reports, 0.5-5 ms
    listed = []   # the daemon's slowest, slowest first: (us, first after a round; None: not matched)
    for x in c.get("slowest", []):
        a = None if x["arrived"] is None else \
            datetime.datetime.fromisoformat(x["arrived"].replace("Z", "+00:00")).timestamp() - offset
        k = None if a is None else min(range(len(xs)), key=lambda i: abs(xs[i][0] - a))
        listed.append((x["us"], None if k is None or abs(xs[k][0] - a) >= near else after[k]))
    def above_p99(n):   # how many of n changes are slower than their p99, the ceil(0.99 n)-th smallest
        return n - -(-n * 99 // 100)
    m = sum(after)
    kept = min(cnt, 4096)
    top = above_p99(kept) + 1                      # the daemon's p99 and the changes slower than it
    p99o = "not computed (the daemon counted %d changes, the sender %d)" % (kept, len(xs))
    if kept == len(xs):
        rank = above_p99(kept - m)                  # the others' p99, counted from the slowest
        p99o = "not known (past the %d listed)" % len(listed)
        others = 0
        for us, aft in listed:
            if aft is None:
                p99o = "not known (a listed change matched no report)"
                break
            if not aft:
                if others == rank:
                    p99o = "%d us (%.1fx tc)" % (us, us / tc)
                    break
                others += 1
    print("DAMON: %d sampling rounds during the reports, %d changes came first after one; of the daemon's %d "
          "slowest (its p99 and the ones above it), %d were such, %d not matched to a report; its p99 without "
          "the %d: %s" % (len(runs), m, top, sum(1 for _, aft in listed[:top] if aft),
          sum(1 for _, aft in listed[:top] if aft is None), m, p99o))
PY
if [ "$SMALL" = 1 ]; then exit 0; fi
echo "daemon resident memory: $(awk '/VmRSS/ {print $2, $3}' /proc/$P/status)"
a=$(awk '{print $14+$15}' /proc/$P/stat); sleep 10; b=$(awk '{print $14+$15}' /proc/$P/stat)
echo "daemon CPU while idle: $((b - a)) clock ticks (1/100 s) in 10 s"
echo "daemon resident memory after those 10 s: $(awk '/VmRSS/ {print $2, $3}' /proc/$P/status)"
