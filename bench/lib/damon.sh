# Sourced by bench scripts (not a benchmark itself). DAMON, the kernel's data access monitor, as this
# machine runs it, and when its threads (kdamond.N) ran, from the kernel's tracer: an instance of its
# own (instances/tunshape-NAME-PID), so that no other user of the tracer is disturbed, on the clock
# CLOCK_MONOTONIC. On this project's VM, DAMON samples the physical address space (paddr; interval
# set to 500 ms, observed every 0.51 s), and the first wake-up of a process after each sampling round
# is slower in proportion to the process's resident memory (bench/damon-tail.sh measures it;
# docs/daemon.md says what it does to the daemon).
#   damon_describe             one line: the running kdamonds, their operations, sampling interval, actions; or off
#   damon_trace_start NAME     records each kdamond thread's runs; 1 (and DAMON_WHY says why) when it cannot
#   damon_trace_stop FILE      stops; FILE gets the rounds' times (CLOCK_MONOTONIC s, one a line: runs
#                              less than 50 ms apart are one round); never fails
DAMON_TRACING=/sys/kernel/tracing
DAMON_INSTANCE=""
DAMON_WHY=""

damon_pids() {
    local c p
    for c in /proc/[0-9]*/comm; do
        read -r p < "$c" 2>/dev/null || continue
        case "$p" in kdamond.*) p=${c#/proc/}; echo "${p%/comm}" ;; esac
    done
}

damon_describe() {
    local pids k ops sample acts out=""
    pids=$(damon_pids | tr '\n' ' ')
    if [ -z "$pids" ]; then echo "DAMON: off (no kdamond thread)"; return 0; fi
    for k in /sys/kernel/mm/damon/admin/kdamonds/*/; do
        [ "$(cat "$k/state" 2>/dev/null || true)" = on ] || continue
        ops=$( (cat "$k"contexts/*/operations 2>/dev/null || true) | sort -u | tr '\n' ' ')
        sample=$( (cat "$k"contexts/*/monitoring_attrs/intervals/sample_us 2>/dev/null || true) | head -1)
        acts=$( (cat "$k"contexts/*/schemes/*/action 2>/dev/null || true) | sort -u | tr '\n' ' ')
        out="$out; kdamond pid $(cat "$k/pid" 2>/dev/null || echo ?): operations ${ops% }, sampling every $((${sample:-0} / 1000)) ms, schemes: ${acts:-none}"
        out=${out% }
    done
    echo "DAMON: on, kdamond threads (pids) ${pids% }${out:-; not configured through /sys/kernel/mm/damon/admin}"
}

damon_trace_start() {
    local pids filter="" p i
    # instances a killed run left behind (its pid gone): they would go on tracing
    for i in "$DAMON_TRACING"/instances/tunshape-*-[0-9]*; do
        [ -d "$i" ] && ! kill -0 "${i##*-}" 2>/dev/null && rmdir "$i" 2>/dev/null || true
    done
    pids=$(damon_pids)
    if [ -z "$pids" ]; then DAMON_WHY="no kdamond thread: DAMON is off"; return 1; fi
    if [ ! -d "$DAMON_TRACING/instances" ]; then DAMON_WHY="the kernel's tracer is not at $DAMON_TRACING"; return 1; fi
    for p in $pids; do filter="${filter:+$filter || }next_pid == $p"; done
    DAMON_INSTANCE="$DAMON_TRACING/instances/tunshape-$1-$$"
    if ! mkdir "$DAMON_INSTANCE" 2>/dev/null; then
        DAMON_WHY="cannot make the tracer's instance $DAMON_INSTANCE"; DAMON_INSTANCE=""; return 1
    fi
    if ! { echo mono > "$DAMON_INSTANCE/trace_clock" && echo "$filter" > "$DAMON_INSTANCE/events/sched/sched_switch/filter" \
            && echo 1 > "$DAMON_INSTANCE/events/sched/sched_switch/enable"; } 2>/dev/null; then
        rmdir "$DAMON_INSTANCE" 2>/dev/null || true
        DAMON_WHY="cannot set up the tracer's instance $DAMON_INSTANCE (clock mono, sched_switch)"; DAMON_INSTANCE=""; return 1
    fi
}

damon_trace_stop() {
    [ -n "$DAMON_INSTANCE" ] || return 0
    echo 0 > "$DAMON_INSTANCE/events/sched/sched_switch/enable" 2>/dev/null || true
    # "   <idle>-0  [001] d..2. 50642.206679: sched_switch: ... next_comm=kdamond.0 next_pid=83 ..."
    { sed -n 's/^.* \([0-9][0-9]*\.[0-9]*\): sched_switch: .*next_comm=kdamond.*$/\1/p' "$DAMON_INSTANCE/trace" 2>/dev/null || true; } \
        | awk 'last == "" || $1 - last >= 0.05 { print } { last = $1 }' > "$1"
    rmdir "$DAMON_INSTANCE" 2>/dev/null || true
    DAMON_INSTANCE=""
}
