package io.tunshape.daemon;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How long report-driven rate changes took, from the report's arrival at the socket (the kernel's
 * stamp) to the kernel's acknowledgement of the class change: the last {@value #KEPT} of them, each
 * with its arrival, for status and metrics. Recorded by the report thread, read by the control server.
 */
final class ChangeLatency {
    static final int KEPT = 4096;
    private final long[] micros = new long[KEPT];
    /** When each kept change's report arrived (epoch ns; -1: not known). */
    private final long[] arrived = new long[KEPT];
    private long count;

    /** One change, {@code nanos} long, of a report that arrived at {@code arrivedEpochNanos} (-1: not known). */
    synchronized void record(long nanos, long arrivedEpochNanos) {
        int i = (int) (count % KEPT);
        micros[i] = Math.max(0, nanos / 1000);
        arrived[i] = arrivedEpochNanos;
        count++;
    }

    /** One change whose report's arrival is not kept. */
    void record(long nanos) {
        record(nanos, -1);
    }

    /** Changes recorded since start. */
    synchronized long count() {
        return count;
    }

    /** The q-quantile (0..1) of the kept samples in microseconds, or -1 without samples. */
    synchronized long quantileMicros(double q) {
        int n = (int) Math.min(count, KEPT);
        if (n == 0) {
            return -1;
        }
        long[] sorted = Arrays.copyOf(micros, n);
        Arrays.sort(sorted);
        int i = Math.max(0, (int) Math.ceil(q * n) - 1);
        return sorted[Math.min(n - 1, i)];
    }

    /** A kept change: its report's arrival (epoch ns, -1: not known) and how long it took (µs). */
    record Sample(long arrivedEpochNanos, long micros) {
    }

    /**
     * The {@code k} slowest of the kept changes, slowest first (of equal ones, the later first): what
     * a p99 is made of, with when each came, to set beside what else the host did then.
     */
    synchronized List<Sample> slowest(int k) {
        int n = (int) Math.min(count, KEPT);
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> micros[a] != micros[b] ? Long.compare(micros[b], micros[a])
                : Long.compare(arrived[b], arrived[a]));
        List<Sample> out = new ArrayList<>(Math.min(k, n));
        for (int i = 0; i < Math.min(k, n); i++) {
            out.add(new Sample(arrived[order[i]], micros[order[i]]));
        }
        return out;
    }
}
