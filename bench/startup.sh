#!/usr/bin/env bash
# Start-up of the one-shot commands against the JVM's floor (issue 24): the median wall time of
# RUNS starts of each command through the launcher, and of a Java hello-world started by the same
# JVM with the same options the launcher gives it (not its class-data archive: the hello-world gets
# the JDK's default one), interleaved round by round in the same run; the ratio to that floor is
# what counts on a loaded machine. Also the one-device apply's own in-process figure (apply -v).
#
# Usage (as root): [RUNS=9] [LAUNCHER=bin/tunshape] [JAVA_HOME=...] bench/startup.sh
#   LAUNCHER=/usr/bin/tunshape measures the installed Debian package (its archive made by postinst);
#   JAVA_HOME selects bin/tunshape's JVM (build with the same JAVA_HOME: the archive is the JVM's own).
#   SMALL=1: 3 rounds (about 20 s), exits non-zero when a command fails.
# Commands: --version, --help, show (two tun devices), apply (one device, the rate alternating so
# that every run changes the kernel), clear (after an untimed apply, so every run removes a qdisc),
# profiles list, and status against a control socket that a python3 responder serves one canned
# answer of the daemon's shape on (status's whole path: connect, read, parse the JSON, print; no
# daemon needed, so the row times the CLI alone). Also each command's median CPU time (user + system,
# from the shell's `times`) and its ratio to the hello-world's: on a loaded machine, where waiting
# for a core stretches every wall time, the CPU ratio is the steadier one. Progress on stderr, the
# table on stdout.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
LAUNCHER=${LAUNCHER:-$top/bin/tunshape}
RUNS=${RUNS:-9}
if [ "${SMALL:-0}" = 1 ]; then RUNS=3; fi
[ "$(id -u)" = 0 ] || { echo "startup.sh: needs root (a network namespace, qdisc changes)" >&2; exit 2; }
if [ "$LAUNCHER" = "$top/bin/tunshape" ] && [ ! -f "$top/target/tunshape.jar" ]; then
    (cd "$top" && mvn -B -q -DskipTests package)
fi
# the launcher's JVM and options
eval "$(TUNSHAPE_LAUNCHER=print "$LAUNCHER" | sed -n "s/^\(java\|opts\|archive\)=\(.*\)/L_\1='\2'/p")"
[ -n "${L_java:-}" ] || { echo "startup.sh: $LAUNCHER does not print its JVM (TUNSHAPE_LAUNCHER=print)" >&2; exit 2; }
jhome=$(dirname "$(dirname "$(readlink -f "$(command -v "$L_java")")")")
javac=$jhome/bin/javac; [ -x "$javac" ] || javac=javac
D=$(mktemp -d); NS=tsstart$$; RESP=""
cleanup() {
    [ -n "$RESP" ] && kill "$RESP" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT   # through the EXIT trap: a signal ends the run, after the cleanup
trap 'exit 143' TERM
printf 'public class Hello { public static void main(String[] a) { System.out.println("hello"); } }\n' > "$D/Hello.java"
"$javac" -d "$D" "$D/Hello.java"
ip netns add "$NS"
ip -n "$NS" tuntap add dev t0 mode tun; ip -n "$NS" tuntap add dev t1 mode tun
# the canned status answer, on a socket of this run
cat > "$D/status.json" <<'EOF'
{"namespaces":[{"label":"host","state":"serving","devices":2,"reason":null,"attempts":0}],
 "discovery":{"host_namespaces":3,"process_event_source":"netlink connector","last_proc_scan_us":812},
 "interfaces":[{"dev":"t0","netns":null,"profile":"ax25-9600-g3ruh","rate_bps":9600,"capacity_bps":9600,
   "report_age_ms":120,"changes":4,"flushes":0},{"dev":"t1","netns":null,"profile":"slip-115200",
   "rate_bps":115200,"capacity_bps":110000,"report_age_ms":80,"changes":1,"flushes":0}],
 "reports":{"accepted":12,"refused":1,"refused_by_reason":{"malformed":1,"unknown_device":0}},
 "changes":{"count":5,"p50_us":310,"p99_us":900,"max_us":1200}}
EOF
python3 - "$D/status.sock" "$D/status.json" <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(8)
answer = open(sys.argv[2], 'rb').read()
while True:
    c, _ = s.accept(); c.sendall(answer); c.close()
EOF
RESP=$!
for i in $(seq 50); do [ -S "$D/status.sock" ] && break; sleep 0.1; done

T=$LAUNCHER
declare -A CMD=(
    [hello]="$L_java $L_opts -cp $D Hello"
    [--version]="$T --version"
    [--help]="$T --help"
    [show]="$T --netns $NS show"
    [apply]="apply_once"
    [clear]="clear_once"
    [profiles list]="$T profiles list"
    [status]="$T status --socket $D/status.sock"
)
ORDER=(hello --version --help show apply clear "profiles list" status)
rate=1mbit
apply_once() { # the rate alternates so that every run changes the kernel; -v: the in-process figure
    if [ "$rate" = 1mbit ]; then rate=2mbit; else rate=1mbit; fi
    "$T" -v --netns "$NS" apply t0 --rate "$rate"
}
clear_once() { "$T" --netns "$NS" clear t1; }
failed=0
cpu() { # the CPU time of the shell's finished children in ms, into cpu_ms (no process of its own: it would count)
    local u s i m sec
    times > "$D/times"
    { read -r _; read -r u s; } < "$D/times"
    cpu_ms=0
    for i in "$u" "$s"; do
        m=${i%%m*}; sec=${i#*m}; sec=${sec%s}
        cpu_ms=$(( cpu_ms + m * 60000 + ${sec%.*} * 1000 + 10#${sec#*.} ))
    done
}
for r in $(seq "$RUNS"); do
    echo "startup: round $r of $RUNS" >&2
    for c in "${ORDER[@]}"; do
        [ "$c" = clear ] && "$T" --netns "$NS" apply t1 --rate 1mbit >/dev/null
        cpu; c0=$cpu_ms
        s=${EPOCHREALTIME/./}
        if [ "$c" = apply ]; then
            apply_once >"$D/out" 2>"$D/err" || { echo "startup: apply failed: $(cat "$D/err")" >&2; failed=1; }
            sed -n 's/.*, \([0-9.]*\) ms in-process.*/\1/p' "$D/err" >> "$D/inproc"
        elif [ "$c" = clear ]; then
            clear_once >"$D/out" 2>"$D/err" || { echo "startup: clear failed: $(cat "$D/err")" >&2; failed=1; }
        else
            ${CMD[$c]} >"$D/out" 2>"$D/err" || { echo "startup: $c failed: $(cat "$D/err")" >&2; failed=1; }
        fi
        e=${EPOCHREALTIME/./}
        echo $(( (e - s) / 1000 )) >> "$D/t.${c// /_}"
        cpu; echo $(( cpu_ms - c0 )) >> "$D/c.${c// /_}"
    done
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; print m}'; }
floor=$(median "$D/t.hello"); cfloor=$(median "$D/c.hello")
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $("$L_java" -version 2>&1 | sed -n 2p); launcher: $LAUNCHER; archive: ${L_archive:-none}; $RUNS rounds"
echo "| command              | median wall | ratio to hello | median CPU | CPU ratio |"
echo "| -------------------- | ----------- | -------------- | ---------- | --------- |"
for c in "${ORDER[@]}"; do
    m=$(median "$D/t.${c// /_}")
    ratio=$(awk -v a="$m" -v b="$floor" 'BEGIN {printf "%.2f", a / b}')
    cm=$(median "$D/c.${c// /_}")
    cratio=$(awk -v a="$cm" -v b="$cfloor" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
    label=$c; [ "$c" = hello ] && label="hello-world (floor)"
    printf "| %-20s | %8s ms | %13sx | %7s ms | %8sx |\n" "$label" "$m" "$ratio" "$cm" "$cratio"
done
[ -s "$D/inproc" ] && echo "apply's in-process figure (apply -v), median: $(median "$D/inproc") ms"
exit "$failed"
