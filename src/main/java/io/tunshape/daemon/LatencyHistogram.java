package io.tunshape.daemon;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * One device's report-driven rate changes, from the report's arrival to the kernel's ack, as a
 * Prometheus histogram: cumulative counts per upper bound, the sum and the count. Written by the
 * report thread, read by the metrics server; lock-free, and no allocation on the report path.
 */
final class LatencyHistogram {
    /** Upper bounds in seconds: the daemon's changes take a few hundred microseconds, outliers milliseconds. */
    static final double[] BOUNDS = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25};
    private final AtomicLongArray counts = new AtomicLongArray(BOUNDS.length + 1);
    private final java.util.concurrent.atomic.AtomicLong sumNanos = new java.util.concurrent.atomic.AtomicLong();

    void record(long nanos) {
        double s = Math.max(0, nanos) / 1e9;
        int i = 0;
        while (i < BOUNDS.length && s > BOUNDS[i]) {
            i++;
        }
        counts.incrementAndGet(i);
        sumNanos.addAndGet(Math.max(0, nanos));
    }

    /** Changes with a time at most BOUNDS[i] (i = BOUNDS.length: all of them). */
    long cumulative(int i) {
        long n = 0;
        for (int k = 0; k <= i; k++) {
            n += counts.get(k);
        }
        return n;
    }

    long count() {
        return cumulative(BOUNDS.length);
    }

    double sumSeconds() {
        return sumNanos.get() / 1e9;
    }
}
