package io.tunshape.pump;

import java.util.function.Supplier;

/**
 * What one report interval measured, counted as it happens on the pump's thread: bytes and frames
 * handed to the backend, the backend's busy time and the bytes that crossed the link in it (the
 * capacity estimate's numerator, frames in flight included). At the interval's end the device's
 * counters are read (tx_dropped, the qdisc's backlog, tun's ring) and the interval is closed into
 * an {@link Interval}. Not thread-safe: the pump's thread only; frames written to the device are
 * counted on the backend's thread and come in as a total ({@link #close}).
 */
final class Meter {
    private final String dev;
    private final String netns;
    /** Null: the device's counters are not read. */
    private final Supplier<DeviceCounters> counters;
    private final long epochNanos;
    private final boolean kernelFlowControl;
    private final RingEstimate ring = new RingEstimate();
    private long txBytes;
    private long txFrames;
    private long busyNanos;
    private long crossedBytes;
    private long txFramesTotal;
    private long rxFramesReported;

    Meter(String dev, String netns, Supplier<DeviceCounters> counters, long epochNanos, boolean kernelFlowControl) {
        this.dev = dev;
        this.kernelFlowControl = kernelFlowControl;
        this.netns = netns;
        this.counters = counters;
        this.epochNanos = epochNanos;
    }

    /** The pump attaches: tun's ring is empty, so the counters now are its zero. */
    void start() {
        if (counters != null) {
            ring.start(read());
        }
    }

    /** {@code frames} of {@code bytes} went to the backend. */
    void handedOver(int bytes, int frames) {
        txBytes += bytes;
        txFrames += frames;
        txFramesTotal += frames;
    }

    /** The backend (or the emulated link) was busy {@code nanos} carrying {@code bytes}. */
    void busy(long nanos, long bytes) {
        busyNanos += nanos;
        crossedBytes += bytes;
    }

    long txFramesTotal() {
        return txFramesTotal;
    }

    /**
     * Ends the interval of {@code elapsedNanos}: the pump's queue held {@code backlog} frames and
     * {@code rxFramesTotal} frames have been written to the device since the start. Starts the next.
     */
    Interval close(long elapsedNanos, int backlog, long rxFramesTotal) {
        long capacity = busyNanos >= Interval.MIN_BUSY_NANOS ? Math.round(crossedBytes * 8e9 / busyNanos) : -1;
        long dropped = -1;
        long inRing = -1;
        long qdisc = -1;
        DeviceCounters c = counters != null ? read() : null;
        if (c != null) {
            dropped = c.txDropped();
            inRing = ring.next(c);
            qdisc = c.qdiscQlen();
        }
        long rx = rxFramesTotal - rxFramesReported;
        rxFramesReported = rxFramesTotal;
        Interval iv = new Interval(dev, netns, Math.round(elapsedNanos / 1e6), txBytes, txFrames, busyNanos, capacity,
                backlog, inRing, qdisc, dropped, rx, (System.nanoTime() - epochNanos) / 1_000_000, kernelFlowControl);
        txBytes = 0;
        txFrames = 0;
        busyNanos = 0;
        crossedBytes = 0;
        return iv;
    }

    /** The device's counters, or null when they cannot be read now (the device is going away). */
    private DeviceCounters read() {
        try {
            return counters.get();
        } catch (RuntimeException e) {
            return null;
        }
    }
}
