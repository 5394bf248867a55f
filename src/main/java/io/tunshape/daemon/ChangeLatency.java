package io.tunshape.daemon;

import java.util.Arrays;

/**
 * How long report-driven rate changes took, from the report's arrival at the socket (the kernel's
 * stamp) to the kernel's acknowledgement of the class change: the last {@value #KEPT} of them, for
 * status and metrics. Recorded by the report thread, read by the control server.
 */
final class ChangeLatency {
    static final int KEPT = 4096;
    private final long[] micros = new long[KEPT];
    private long count;

    synchronized void record(long nanos) {
        micros[(int) (count % KEPT)] = Math.max(0, nanos / 1000);
        count++;
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
}
