#!/usr/bin/env bash
# Start-up: median wall time of 10 runs each of `tunshape show`, a one-device `tunshape apply`
# and `tunshape profiles list`, through bin/tunshape with and without its class-data-sharing
# archive, against `tc qdisc show`. Usage (as root): bench/startup.sh
# Progress goes to stderr (a line per measurement), the table to stdout.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$top/target/tunshape.jar" ] || (cd "$top" && mvn -B -q -DskipTests package)
NS=tsstart$$
trap 'ip netns del "$NS" 2>/dev/null || true' EXIT INT TERM
ip netns add "$NS"; ip -n "$NS" tuntap add dev t0 mode tun
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
run10() { echo "startup: $label: 10 runs of ${*##*/}" | cut -c1-100 >&2; for i in $(seq 10); do ms "$@"; done | median; }
rate=1mbit
apply_once() { # alternate the rate so that every run changes the kernel
    if [ "$rate" = 1mbit ]; then rate=2mbit; else rate=1mbit; fi
    "$top/bin/tunshape" --netns "$NS" apply t0 --rate "$rate"
}
row() { # $1 = label; TUNSHAPE_CDS set by the caller
    label=$1
    printf "| %-22s | %6s ms | %6s ms | %6s ms |\n" "$1" \
        "$(run10 "$top/bin/tunshape" --netns "$NS" show)" "$(run10 apply_once)" \
        "$(run10 "$top/bin/tunshape" profiles list)"
}
echo "| launcher               |   show   | apply 1  | profiles |"
echo "| ---------------------- | -------- | -------- | -------- |"
export TUNSHAPE_CDS=0; row "bin/tunshape, no CDS"
export TUNSHAPE_CDS=1; "$top/bin/tunshape" --netns "$NS" show >/dev/null   # makes the archive if needed
row "bin/tunshape, CDS"
label="tc"
printf "| %-22s | %6s ms |          |          |\n" "tc qdisc show" "$(run10 ip netns exec "$NS" tc qdisc show)"
