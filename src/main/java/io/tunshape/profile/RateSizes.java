package io.tunshape.profile;

import io.tunshape.tc.Psched;

/**
 * The sizes that follow a rate, one formula each: the planner's ({@link Sizing}, {@link Planner}) and
 * the daemon's compiled rate changes, which apply them at every adaptive rate without planning.
 * Rates are in bytes per second.
 */
public final class RateSizes {
    private RateSizes() {
    }

    /** The default bucket: one millisecond ({@link Planner#BURST_MICROS}) at the rate, at least one full frame. */
    public static long burst(long bytesPerSecond, int frame) {
        return Math.max(frame, (long) Math.ceil(bytesPerSecond * (Planner.BURST_MICROS / 1e6)));
    }

    /** The largest bucket htb holds at the rate: its 32-bit ticks ({@link Psched#maxMicros()}) of traffic. */
    public static long maxBucket(Psched psched, long bytesPerSecond) {
        return (long) Math.floor(psched.maxMicros() * bytesPerSecond / 1e6);
    }

    /** htb's quantum: rate/r2q, at least one full frame, at most what htb takes without a warning. */
    public static int quantum(long bytesPerSecond, int frame) {
        return (int) Math.max(frame, Math.min(bytesPerSecond / Planner.HTB_R2Q, Planner.HTB_MAX_QUANTUM));
    }

    /** tc's latency formula: what the rate sends in {@code micros}, plus the bucket; Long.MAX_VALUE past a long. */
    public static long latencyLimit(long bytesPerSecond, long micros, long burst) {
        long high = Math.multiplyHigh(bytesPerSecond, micros);
        long product = bytesPerSecond * micros;
        if (high != 0 || product < 0) {
            return Long.MAX_VALUE;
        }
        return Math.addExact(product / 1_000_000, burst);
    }

    /** One of {@code flows} queues in latency mode: its share of the latency's bytes, plus a frame. */
    public static long flowLatencyLimit(long bytesPerSecond, long micros, int flows, int frame) {
        return Math.multiplyExact(bytesPerSecond, micros) / 1_000_000 / flows + frame;
    }
}
