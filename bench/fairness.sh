#!/usr/bin/env bash
# Flow fairness on a slow tun link: three bulk UDP senders (default socket buffers, 1000-byte
# datagrams back to back) and one sparse flow (100-byte datagrams) through a tun device drained by a
# stand-in backend at the link rate (bench/fairness.py), for four root qdiscs:
#   default      the kernel's (pfifo_fast; tun drops what its ring cannot hold)
#   fifo-bp      tunshape apply --rate R --senders 4          (one queue, backpressure)
#   fifo-lat     tunshape apply --rate R --latency L          (one queue, bounded wait)
#   flows        tunshape apply --rate R --flows 16 --senders 4  (flow queues, backpressure)
#   flows-u32    the same with --flows-classifier u32 (the fallback where eBPF is refused)
# (--senders 4: the run's four local senders; backpressure holds the send buffers of those planned)
# at 1 Mbit/s (6 s, sparse every 100 ms, L 200ms) and 9600 bit/s (40 s, sparse every 2 s, L 2s).
# In the flows row the four flows' source ports are chosen, by one probe datagram each, so that they
# land in four different queues (two flows share a queue with probability 1/N; then they share its
# turn: that is hashing, not the scheduler). Prints per row the sparse flow's p50/p95 wait and delivered/sent, the bulk flows' delivered rates
# and Jain's index over them (from 20 % of the run to its end), bulk delivered/sent, and the drops
# in the qdisc and at tun.
# Environment: RATES="1mbit 9600bit", MODES="default fifo-bp fifo-lat flows flows-u32", FLOWS=16,
# APPLY_ARGS="..." added to every tunshape apply (e.g. "--txqueuelen 2").
# SMALL=1 (CI, bench/*.sh's small mode): 1 Mbit/s only, 3 s a row, the rows fifo-bp and flows, and
# exit 1 unless each row delivered sparse and bulk datagrams, has a Jain's index, and dropped nothing
# (both rows hold the senders back instead of dropping).
# Usage (as root): bench/fairness.sh      needs: iproute2, python3, a built jar
set -euo pipefail
# shellcheck disable=SC2086
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib/tun-ns.sh"
jar="$top/target/tunshape.jar"
[ -f "$jar" ] || (cd "$top" && mvn -B -q -DskipTests package)
SMALL=${SMALL:-0}
if [ "$SMALL" = 1 ]; then
    RATES=${RATES:-1mbit}; MODES=${MODES:-fifo-bp flows}
else
    RATES=${RATES:-1mbit 9600bit}; MODES=${MODES:-default fifo-bp fifo-lat flows flows-u32}
fi
FLOWS=${FLOWS:-16}
NS=tsfair$$
cleanup() { ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT   # through the EXIT trap: a signal ends the run, after the cleanup
trap 'exit 143' TERM

printf '%-8s %-9s %-12s %-12s %-9s %-30s %-6s %-13s %-8s %-8s\n' rate qdisc 'sparse p50' 'sparse p95' \
    delivered 'bulk kbit/s' Jain 'bulk dlv/sent' 'qdisc dr' 'tun dr'
for rate in $RATES; do
    case $rate in
        1mbit) bytes=125000; secs=6; sparse=100; lat=200ms ;;
        9600bit) bytes=1200; secs=40; sparse=2000; lat=2s ;;
        *) echo "unknown rate $rate (1mbit or 9600bit)" >&2; exit 2 ;;
    esac
    [ "$SMALL" = 1 ] && secs=3
    for mode in $MODES; do
        cleanup
        tun_ns "$NS"
        case $mode in
            default) ;;
            fifo-bp) "$top/bin/tunshape" --netns "$NS" apply t0 --rate "$rate" --senders 4 ${APPLY_ARGS:-} >/dev/null 2>&1 ;;
            fifo-lat) "$top/bin/tunshape" --netns "$NS" apply t0 --rate "$rate" --latency "$lat" ${APPLY_ARGS:-} >/dev/null 2>&1 ;;
            flows) "$top/bin/tunshape" --netns "$NS" apply t0 --rate "$rate" --flows "$FLOWS" --senders 4 ${APPLY_ARGS:-} >/dev/null 2>&1 ;;
            flows-u32) "$top/bin/tunshape" --netns "$NS" apply t0 --rate "$rate" --flows "$FLOWS" --senders 4 \
                --flows-classifier u32 ${APPLY_ARGS:-} >/dev/null 2>&1 ;;
            *) echo "unknown mode $mode" >&2; exit 2 ;;
        esac
        probe=; case $mode in flows*) probe=probe ;; esac
        out=$(ip netns exec "$NS" python3 "$top/bench/fairness.py" "$bytes" "$secs" "$sparse" $probe)
        python3 - "$rate" "$mode" "$out" "$SMALL" <<'EOF'
import json, sys
rate, mode, r = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
small = sys.argv[4] == "1"
f = lambda v: "-" if v is None else f"{v:.1f} ms"
print(f"{rate:<8} {mode:<9} {f(r['sparse_p50_ms']):<12} {f(r['sparse_p95_ms']):<12} "
      f"{r['sparse_delivered']}/{r['sparse_sent']:<6} {'/'.join(str(round(x/1000, 1)) for x in r['bulk_bps']):<30} "
      f"{'-' if r['jain'] is None else format(r['jain'], '.4f'):<6} {r['bulk_delivered']}/{r['bulk_sent']:<8} "
      f"{r['qdisc_drops']:<8} {r['tun_dropped']:<8}")
if small:
    bad = [what for what, ok in (
        ("no sparse datagram delivered", r["sparse_delivered"] > 0),
        ("no bulk datagram delivered", r["bulk_delivered"] > 0),
        ("no Jain's index", r["jain"] is not None),
        ("drops with backpressure", mode not in ("fifo-bp", "flows", "flows-u32")
         or (r["qdisc_drops"] == 0 and r["tun_dropped"] == 0))) if not ok]
    if bad:
        sys.exit(f"fairness: FAILED: {rate} {mode}: {', '.join(bad)}")
EOF
    done
done
echo "load: $(uptime)"
