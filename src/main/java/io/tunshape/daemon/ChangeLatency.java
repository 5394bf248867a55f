package io.tunshape.daemon;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How long report-driven rate changes took, from the report's arrival at the socket (the kernel's
 * stamp) to the kernel's acknowledgement of the class change: the last {@value #KEPT} of them, each
 * with its arrival, for status and metrics. Recorded by the report thread; read by the control
 * server as a {@link Snapshot}, copied under the lock and worked on outside it, so that a status
 * request holds the report thread up for a copy of the arrays only.
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

    /** The kept changes as they are now: one consistent view for quantiles and the slowest. */
    synchronized Snapshot snapshot() {
        int n = (int) Math.min(count, KEPT);
        return new Snapshot(count, Arrays.copyOf(micros, n), Arrays.copyOf(arrived, n));
    }

    /** A kept change: its report's arrival (epoch ns, -1: not known) and how long it took (µs). */
    record Sample(long arrivedEpochNanos, long micros) {
    }

    /** The kept changes at one moment ({@code count}: recorded since start); oldest first once the ring has turned: no order is assumed. */
    record Snapshot(long count, long[] micros, long[] arrived) {
        /** The q-quantile (0..1) in microseconds, the ceil(q n)-th smallest, or -1 without samples. */
        long quantileMicros(double q) {
            int n = micros.length;
            if (n == 0) {
                return -1;
            }
            long[] sorted = micros.clone();
            Arrays.sort(sorted);
            int i = Math.max(0, (int) Math.ceil(q * n) - 1);
            return sorted[Math.min(n - 1, i)];
        }

        /**
         * The {@code k} slowest, slowest first (of equal ones, the later arrival first): what a p99
         * is made of, with when each came, to set beside what else the host did then.
         */
        List<Sample> slowest(int k) {
            int n = micros.length;
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
}
