#!/bin/bash
# The long fuzz run: every decoder's properties with many more inputs than the short run in
# `mvn verify` (1000 each), and, with JAZZER_FUZZ=1, coverage-guided fuzzing with Jazzer.
# Usage: bench/fuzz.sh [TRIES] [YAML_TRIES]
#   TRIES       inputs per property for the binary and JSON decoders (default 2,000,000):
#               netlink datagrams, tc options, attributes, SLIP, KISS, exec framing, reports
#   YAML_TRIES  inputs for profiles and for daemon configurations (default 2,000,000 each), run by
#               FuzzLoop (the properties' inputs and invariants in a plain loop, one JVM per decoder,
#               side by side); SnakeYAML takes most of their 0.2-0.3 ms of CPU an input
#   FUZZ_ONLY=yaml       only the profiles and configurations; FUZZ_ONLY=jazzer only Jazzer
#   JAZZER_FUZZ=1        then fuzz each Jazzer target for JAZZER_SECONDS (default 600) with
#                        coverage guidance; its corpus grows in .cifuzz-corpus/, and what it finds is
#                        written into the test resources, CLASSInputs/TARGET/ beside the class
#                        (a regression test from then on)
#   JAZZER_TARGETS       which targets (default: netlink report profile daemonConfig slipKiss, methods of
#                        JazzerFuzzTest, and ExecFramingFuzzTest#execFraming)
# Prints, per property or target, the inputs tried and the time; exits non-zero on the first
# failure, with the seed and the input (a finding becomes a regression test: docs/reliability.md).
# On a shared machine run it at idle priority from a copy of the tree:
#   chrt --idle 0 nice -n 19 bench/fuzz.sh
# SMALL=1 (CI, bench/*.sh's small mode): TRIES 100 and YAML_TRIES 500 by default, no Jazzer, the four
# binary and JSON property classes in one JVM (io.tunshape.bench.PropertyRun) instead of a Maven run
# each; the test classes are compiled only when a source is newer than them, and the class path is
# kept in target/fuzz-cp.txt until pom.xml changes. Exits 1 on a finding, as the long run does.
set -euo pipefail
cd "$(dirname "$0")/.."
SMALL=${SMALL:-0}
if [ "$SMALL" = 1 ]; then
    TRIES=${1:-100}; YAML_TRIES=${2:-500}; JAZZER_FUZZ=0
    if [ ! -f target/test-classes/io/tunshape/bench/PropertyRun.class ] \
            || [ -n "$(find src pom.xml -newer target/test-classes/io/tunshape/bench/PropertyRun.class -type f \( -name "*.java" -o -name pom.xml \) -print -quit)" ]; then
        mvn -B -q -o test-compile >/dev/null 2>&1 || mvn -B -q test-compile
    fi
else
    TRIES=${1:-2000000}; YAML_TRIES=${2:-2000000}
    mvn -B -q -o test-compile >/dev/null 2>&1 || mvn -B -q test-compile
fi
ONLY=${FUZZ_ONLY:-}
classpath() { # the test class path, kept in target/fuzz-cp.txt while pom.xml is older than it
    if [ ! -s target/fuzz-cp.txt ] || [ pom.xml -nt target/fuzz-cp.txt ]; then
        mvn -B -q -o dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/fuzz-cp.txt >/dev/null 2>&1 \
            || mvn -B -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/fuzz-cp.txt
    fi
    echo "target/test-classes:target/classes:$(cat target/fuzz-cp.txt)"
}
echo "fuzz: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
run() {
    local test=$1 tries=$2 t0 t1 log
    log=$(mktemp)
    t0=$(date +%s)
    if ! mvn -B -o test -Dtest="$test" -Djqwik.tries.default="$tries" -Dsurefire.failIfNoSpecifiedTests=false \
            -Djqwik.reporting.onlyfailures=true >"$log" 2>&1; then
        grep -E "AssertionError|undocumented|allocated|seed|Tests run" "$log" | head -40
        echo "fuzz: $test FAILED (full log: $log)"
        exit 1
    fi
    t1=$(date +%s)
    echo "fuzz: $test: $(grep -h '^fuzz: inputs tried' "$log" | tail -1 | sed 's/fuzz: inputs tried //'), $((t1 - t0)) s"
    rm -f "$log"
}
if [ -z "$ONLY" ] && [ "$SMALL" = 1 ]; then
    t0=$(date +%s)
    if ! java -Djazzer.hooks=false -cp "$(classpath)" io.tunshape.bench.PropertyRun "$TRIES" io.tunshape.fuzz.NetlinkFuzzTest \
            io.tunshape.fuzz.FramingFuzzTest io.tunshape.pump.ExecFramingFuzzTest io.tunshape.fuzz.ReportFuzzTest \
            >target/fuzz-small.log 2>&1; then
        grep -E "AssertionError|undocumented|allocated|seed|=>|properties:" target/fuzz-small.log | head -40
        echo "fuzz: properties FAILED (full log: target/fuzz-small.log)"
        exit 1
    fi
    echo "fuzz: $(grep -h '^fuzz: properties' target/fuzz-small.log | sed 's/^fuzz: //'), $TRIES inputs a property," \
        "$(($(date +%s) - t0)) s"
elif [ -z "$ONLY" ]; then
    run 'NetlinkFuzzTest' "$TRIES"
    run 'FramingFuzzTest' "$TRIES"
    run 'ExecFramingFuzzTest' "$TRIES"
    run 'ReportFuzzTest' "$TRIES"
fi
if [ -z "$ONLY" ] || [ "$ONLY" = yaml ]; then
    cp=$(classpath)
    t0=$(date +%s)
    pids=()
    for target in profile daemon-config; do
        java -Xmx512m -cp "$cp" io.tunshape.fuzz.FuzzLoop "$target" "$YAML_TRIES" >"target/fuzz-$target.log" 2>&1 &
        pids+=($!)
    done
    failed=0
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    for target in profile daemon-config; do
        grep -E "FOUND|done" "target/fuzz-$target.log" | head -5 | sed "s/^fuzz: /fuzz: FuzzLoop /"
    done
    echo "fuzz: profiles and configurations side by side: $(($(date +%s) - t0)) s"
    if [ "$failed" = 1 ]; then
        echo "fuzz: FuzzLoop FAILED (logs: target/fuzz-profile.log, target/fuzz-daemon-config.log)"
        exit 1
    fi
fi
if [ "${JAZZER_FUZZ:-}" = 1 ] && { [ -z "$ONLY" ] || [ "$ONLY" = jazzer ]; }; then
    secs=${JAZZER_SECONDS:-600}
    for target in ${JAZZER_TARGETS:-netlink report profile daemonConfig slipKiss ExecFramingFuzzTest#execFraming}; do
        case $target in *"#"*) test=$target ;; *) test="JazzerFuzzTest#$target" ;; esac
        target=${target#*#}
        log=target/jazzer-$target.log
        t0=$(date +%s)
        # jazzer.internal.arg.N are libFuzzer's arguments (N=0 is its argv[0]); hooks on: coverage needs them
        if ! JAZZER_FUZZ=1 mvn -B -o test -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false \
                -Djazzer.hooks=true -Djazzer.internal.arg.0=fuzz -Djazzer.internal.arg.1=-max_total_time="$secs" \
                -DargLine=-Xmx1g >"$log" 2>&1; then
            grep -E "== Java Exception|AssertionError|undocumented|allocated|Crash|crash-|Test unit written" "$log" | head -30
            echo "fuzz: jazzer $target FAILED (full log: $log)"
            exit 1
        fi
        done_line=$(grep -E '^#[0-9]+.*DONE' "$log" | tail -1)
        inited=$(grep -E '^#[0-9]+.*INITED' "$log" | tail -1 | grep -o 'cov: [0-9]*')
        echo "fuzz: jazzer $target: $(grep -h '^Done ' "$log" | tail -1); coverage from ${inited:-?} to" \
            "$(echo "$done_line" | grep -o 'cov: [0-9]*'), corpus $(echo "$done_line" | grep -o 'corp: [^ ]*'), $(($(date +%s) - t0)) s"
    done
fi
echo "fuzz: done, load $(cut -d' ' -f1-3 /proc/loadavg)"
