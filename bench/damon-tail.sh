#!/usr/bin/env bash
# The daemon's report tail without the daemon: the first wake-up of a process after each of DAMON's
# sampling rounds, against how much memory the process holds resident. bench/damon-tail.c reads 1-byte
# datagrams GAP ms apart (from its child at nice 19) and does nothing else; it holds MB mebibytes
# resident (written once, then never touched), for each MB in SIZES (a trailing h: in transparent huge
# pages). The kernel's tracer (an instance of its own: bench/lib/damon.sh) records when the kdamond
# threads ran; a reading is "after a round" when a kdamond run came between it and the one before.
# Prints, for each size: the readings, arrival to recvmsg's return, after a round and the others.
# On this project's VM the readings after a round take longer in proportion to the resident memory
# (docs/daemon.md); with DAMON off every reading is one of the others. Usage (as root; needs cc):
#   [SMALL=1] [N=500] [GAP=20] [SIZES="1 16 64 128 256 256h"] bench/damon-tail.sh
# SMALL=1: N=100, SIZES="1 64" (about 5 s); exits non-zero when a figure is missing.
set -euo pipefail
SMALL=${SMALL:-0}
if [ "$SMALL" = 1 ]; then N=${N:-100}; SIZES=${SIZES:-"1 64"}; else N=${N:-500}; SIZES=${SIZES:-"1 16 64 128 256 256h"}; fi
GAP=${GAP:-20}
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib/damon.sh"
D=$(mktemp -d)
cleanup() { damon_trace_stop /dev/null 2>/dev/null || true; rm -rf "$D"; }
trap cleanup EXIT
trap 'exit 130' INT   # through the EXIT trap: a signal ends the run, after the cleanup
trap 'exit 143' TERM
command -v cc >/dev/null || { echo "damon-tail: needs cc (gcc)" >&2; exit 1; }
cc -O2 -o "$D/damon-tail" "$top/bench/damon-tail.c"
damon_describe
traced=1
damon_trace_start damon-tail || { traced=0; echo "readings not split by DAMON's rounds: $DAMON_WHY"; }
for s in $SIZES; do
    mb=${s%h}
    HUGE=$([ "$s" != "$mb" ] && echo 1 || echo 0) "$D/damon-tail" "$N" "$GAP" "$mb" > "$D/read-$s"
done
: > "$D/runs"
[ "$traced" = 1 ] && damon_trace_stop "$D/runs"
python3 - "$D" "$GAP" "$traced" $SIZES <<'PY'
import sys
d, gap, traced, sizes = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4:]
runs = sorted(int(float(l) * 1e9) for l in open(d + "/runs") if l.strip())
def pct(xs, p):   # as the daemon's status ranks them: the ceil(p * n)-th smallest
    xs = sorted(xs)
    return xs[max(0, -(-len(xs) * round(p * 100) // 100) - 1)] / 1000 if xs else None
def us(x):
    return "-" if x is None else "%.0f us" % x
print("| resident | readings | after a DAMON round: n, p50, max | the others: p50, p99 | all: p99 |")
print("| --- | --- | --- | --- | --- |")
for s in sizes:
    lines = open("%s/read-%s" % (d, s)).read().splitlines()
    huge = [l.split(":", 1)[1].strip() for l in lines if l.startswith("# AnonHugePages:")]
    rows = [tuple(map(int, l.split())) for l in lines if not l.startswith("#")]
    if not rows:
        sys.exit("no readings for %s MB" % s)
    after, other = [], []
    prev = rows[0][0] - gap * 1_000_000
    j = 0
    for at, took in rows:
        while j < len(runs) and runs[j] <= prev:
            j += 1
        (after if j < len(runs) and runs[j] < at else other).append(took)
        prev = at
    label = s[:-1] + " MiB asking for huge pages (%s of them)" % (huge[0] if huge else "? kB") if s.endswith("h") else s + " MiB"
    print("| %s | %d | %d, %s, %s | %s, %s | %s |" % (label, len(rows), len(after), us(pct(after, .5)),
          us(max(after) / 1000 if after else None), us(pct(other, .5)), us(pct(other, .99)), us(pct([t for _, t in rows], .99))))
if traced:
    print("DAMON rounds (kdamond runs) during the readings: %d" % len(runs))
PY
