#!/bin/bash
# The long fuzz run: every decoder's properties with many more inputs than the short run in
# `mvn verify` (1000 each). Usage: bench/fuzz.sh [TRIES] [YAML_TRIES]
#   TRIES       inputs per property for the binary and JSON decoders (default 2,000,000):
#               netlink datagrams, tc options, attributes, SLIP, KISS, exec framing, reports
#   YAML_TRIES  inputs per property for profiles and daemon configurations (default 1,000,000;
#               SnakeYAML and the planner take about 1 ms an input, so this is the slow part)
# Prints, per property, the inputs tried and the time; exits non-zero on the first failure, with
# jqwik's seed and the shrunk input (a finding becomes a regression test: see README, Reliability).
# Run it alone: flock /tmp/tunshape-bench.lock bench/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TRIES=${1:-2000000}
YAML_TRIES=${2:-1000000}
mvn -B -q -o test-compile >/dev/null 2>&1 || mvn -B -q test-compile
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
run 'NetlinkFuzzTest' "$TRIES"
run 'FramingFuzzTest' "$TRIES"
run 'ExecFramingFuzzTest' "$TRIES"
run 'ReportFuzzTest' "$TRIES"
run 'ProfileFuzzTest' "$YAML_TRIES"
echo "fuzz: done, load $(cut -d' ' -f1-3 /proc/loadavg)"
