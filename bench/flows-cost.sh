#!/usr/bin/env bash
# What the flow classifier costs: bench/pump-throughput.sh (tunshape's pump, tun -> udp -> udp -> tun)
# through a 1 Gbit/s tree without and with flow queues, same run, same machine:
#   htb     tunshape apply --rate 1gbit --qdisc htb          (one class)
#   flows   tunshape apply --rate 1gbit --flows 64           (64 queues, the cls_bpf classifier;
#           CLASSIFIER=u32: --flows-classifier u32, the fallback's hash tables)
# and the difference in each throughput column, ROUNDS times in turn (a busy machine drifts; compare
# rounds). Environment: FLOWS=64, RATE=1gbit, PUMPS=tunshape, ROUNDS=2, CLASSIFIER=auto, SECONDS per
# measurement as the first argument (pump-throughput.sh's, default 5).
# SMALL=1 (CI, bench/*.sh's small mode): one round of 1 s measurements without the warm-up
# (WARMUP=0), SMALL=1 passed on to pump-throughput.sh, and exit 1 unless both trees give a positive
# number in every column (a column pump-throughput.sh's small mode leaves out, "-", is skipped).
# Usage (as root): bench/flows-cost.sh [SECONDS]    needs what pump-throughput.sh needs
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export SMALL=${SMALL:-0}
if [ "$SMALL" = 1 ]; then D=${1:-1}; ROUNDS=${ROUNDS:-1}; export WARMUP=${WARMUP:-0}
else D=${1:-5}; ROUNDS=${ROUNDS:-2}; fi
FLOWS=${FLOWS:-64}
RATE=${RATE:-1gbit}
export PUMPS=${PUMPS:-tunshape}
failures=0
CLASSIFIER=${CLASSIFIER:-auto}
# columns: flood 64 B pkt/s, flood 1400 B Mbit/s, paced 64 B pkt/s, paced 1400 B Mbit/s, TCP Mbit/s
nums() { echo "$1" | grep '^| tunshape\|^| C pump\|^| socat' | head -1 | awk -F'|' '{
    for (i = 3; i <= 7; i++) { split($i, a, " "); printf "%s ", a[1] } print "" }'; }
names=("flood 64 B" "flood 1400 B" "paced 64 B" "paced 1400 B" "TCP")
for round in $(seq "$ROUNDS"); do
    plain=$(SHAPE_ARGS="--rate $RATE --qdisc htb" "$top/bench/pump-throughput.sh" "$D")
    flows=$(SHAPE_ARGS="--rate $RATE --flows $FLOWS --flows-classifier $CLASSIFIER" "$top/bench/pump-throughput.sh" "$D")
    echo "$plain"
    echo "$flows" | grep -v '^| pump\|^| ---'
    read -r -a a <<<"$(nums "$plain")"
    read -r -a b <<<"$(nums "$flows")"
    echo "round $round: with $FLOWS flow queues ($CLASSIFIER classifier) against one class at $RATE:"
    for i in 0 1 2 3 4; do
        awk -v n="${names[$i]}" -v x="${a[$i]}" -v y="${b[$i]}" \
            'BEGIN { printf "  %-13s %10s -> %10s  (%+.1f %%)\n", n, x, y, (x > 0 ? (y - x) * 100 / x : 0) }'
        if [ "$SMALL" = 1 ]; then
            for v in "${a[$i]:-}" "${b[$i]:-}"; do
                [ "$v" = - ] || awk -v v="$v" 'BEGIN { exit !(v ~ /^[0-9][0-9,.]*$/ && v + 0 > 0) }' \
                    || { echo "flows-cost: FAILED: ${names[$i]}: '$v' is not a positive number" >&2; failures=$((failures + 1)); }
            done
        fi
    done
    echo "load: $(uptime)"
done
[ "$failures" -eq 0 ] || { echo "flows-cost: $failures check(s) failed" >&2; exit 1; }
