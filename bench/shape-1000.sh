#!/usr/bin/env bash
# Shape N tun devices in one namespace four ways and print the wall time of each:
#   tunshape (one command naming all N, JVM start included), tc -batch, pyroute2, a loop of tc.
# Also prints tunshape's in-process time (-v) for N devices and for one, and the marginal
# in-process cost per device: (t_N - t_1) / (N - 1).
# Usage (as root): bench/shape-1000.sh [N]     needs: iproute2, python3-pyroute2, a built jar
# Progress goes to stderr (a line per step), the results to stdout, with the load before and after.
# SMALL=1 (CI, bench/*.sh's small mode): N=20 by default and one run instead of the median of 5 for
# the in-process times; every step still checks that the kernel holds a tbf on all N devices, and
# the script exits 1 if one does not or a time is missing.
set -euo pipefail
step() { echo "shape-1000: step $1 of 7: $2" >&2; }
SMALL=${SMALL:-0}
if [ "$SMALL" = 1 ]; then N=${1:-20}; RUNS=1; else N=${1:-1000}; RUNS=5; fi
[ "$N" -ge 2 ] || { echo "shape-1000: N must be at least 2 (the marginal cost divides by N - 1)" >&2; exit 2; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)
top=$(cd "$(dirname "$0")/.." && pwd)
jar="$top/target/tunshape.jar"
[ -f "$jar" ] || (cd "$top" && mvn -B -q -DskipTests package)
NS=tsbench$$
cleanup() { ip netns del "$NS" 2>/dev/null || true; rm -f "/tmp/$NS".*; }
trap cleanup EXIT
trap 'exit 130' INT   # through the EXIT trap: a signal ends the run, after the cleanup
trap 'exit 143' TERM
ip netns add "$NS"
step 1 "creating $N tun devices"
for i in $(seq 0 $((N - 1))); do echo "tuntap add dev t$i mode tun"; done > "/tmp/$NS.mk"
ip -n "$NS" -batch "/tmp/$NS.mk"

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | awk '{printf "%.3f", $1}'; }
reset() { # back to the kernel default on every device
    for i in $(seq 0 $((N - 1))); do echo "qdisc del dev t$i root"; done > "/tmp/$NS.del"
    ip netns exec "$NS" tc -force -batch "/tmp/$NS.del" 2>/dev/null || true
}
check() { # every device must hold a tbf at the rate
    local n
    n=$(ip netns exec "$NS" tc qdisc show | grep -c "qdisc tbf .* rate 1Mbit" || true)
    [ "$n" -eq "$N" ] || { echo "check failed: $n of $N devices shaped" >&2; exit 1; }
}
java_opts="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto"

step 2 "tunshape apply on all $N in one command"
reset
t0=$(now); java $java_opts -jar "$jar" --netns "$NS" apply 't*' --rate 1mbit --latency 100ms >/dev/null; t1=$(now)
check; tunshape_all=$(secs "$t0" "$t1")
inproc() { # median of RUNS runs of tunshape's in-process time (ms); $1 = "reset" to start each from the default
    local runs=() v
    for _ in $(seq "$RUNS"); do
        [ "$1" = reset ] && reset
        v=$(java $java_opts -jar "$jar" -v --netns "$NS" apply "${@:2}" --rate 1mbit --latency 100ms 2>&1 >/dev/null \
            | sed -n 's/.* \([0-9.]*\) ms in-process.*/\1/p')
        [ -n "$v" ] || { echo "shape-1000: tunshape -v apply ${*:2} printed no in-process time" >&2; exit 1; }
        runs+=("$v")
    done
    printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}
step 3 "tunshape's in-process time: $((3 * RUNS)) runs (all unchanged, all changed, one device)"
inproc_n=$(inproc keep 't*')
inproc_n_changed=$(inproc reset 't*')
inproc_1=$(inproc reset t0)

step 4 "tc -batch"
reset
for i in $(seq 0 $((N - 1))); do echo "qdisc replace dev t$i root handle 7473: tbf rate 1mbit burst 1500 latency 100ms"; done > "/tmp/$NS.tc"
t0=$(now); ip netns exec "$NS" tc -batch "/tmp/$NS.tc"; t1=$(now)
check; tcbatch=$(secs "$t0" "$t1")

step 5 "pyroute2"
reset
cat > "/tmp/$NS.py" <<PY
from pyroute2 import NetNS
ns = NetNS("$NS")
for link in ns.get_links():
    name = link.get_attr("IFLA_IFNAME")
    if name.startswith("t"):
        ns.tc("replace", "tbf", link["index"], 0x74730000, rate="1mbit", burst=1500, latency="100ms")
ns.close()
PY
t0=$(now); /usr/bin/python3 "/tmp/$NS.py"; t1=$(now)
check; pyroute2=$(secs "$t0" "$t1")

step 6 "a loop of $N tc processes (the slowest: several seconds)"
reset
t0=$(now)
for i in $(seq 0 $((N - 1))); do
    ip netns exec "$NS" tc qdisc replace dev "t$i" root handle 7473: tbf rate 1mbit burst 1500 latency 100ms
    [ $(( (i + 1) % 250 )) -ne 0 ] || echo "shape-1000:   $((i + 1)) of $N" >&2
done
t1=$(now)
check; tcloop=$(secs "$t0" "$t1")

step 7 "results"
per_dev=$(echo "($inproc_n_changed - $inproc_1) * 1000 / ($N - 1)" | bc -l | awk '{printf "%.1f", $1}')
tc_per_dev=$(echo "$tcbatch * 1000000 / $N" | bc -l | awk '{printf "%.1f", $1}')
echo "devices: $N"
echo "tunshape apply (one command, JVM start included): ${tunshape_all} s"
echo "tunshape in-process (median of $RUNS), all changed: ${inproc_n_changed} ms; all unchanged: ${inproc_n} ms; one device: ${inproc_1} ms"
echo "tunshape marginal in-process cost per device: ${per_dev} us"
echo "tc -batch: ${tcbatch} s (${tc_per_dev} us per device)"
echo "pyroute2: ${pyroute2} s"
echo "loop of tc processes: ${tcloop} s"
echo "load average: $load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after ($(nproc) CPUs)"
