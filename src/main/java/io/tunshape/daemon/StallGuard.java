package io.tunshape.daemon;

/**
 * The stall guard of one device with kernel flow control (IFF_BACKPRESSURE): with it, a reader that
 * stops reading leaves the device's queue stopped, and every sender whose packets wait in the qdisc
 * blocks for as long as the reader sleeps (the second objection of 2014 to tun flow control). The
 * guard calls the reader stalled when packets have waited in the qdisc while the reader took
 * nothing for {@code stallAfter}, and flowing again as soon as it takes anything. tun counts what
 * its reader takes as the device's transmitted packets, so that counter is the reader's progress.
 * Pure logic on an injected clock: the caller samples the kernel and acts on the answer.
 */
public final class StallGuard {
    /** What the caller does after a sample. */
    public enum Action {
        /** Nothing changes. */
        NONE,
        /** The reader has stalled: free the senders (drop what the qdisc holds) and say so once. */
        STALL,
        /** The reader reads again: put the plan back. */
        RESUME
    }

    private final long stallAfterNanos;
    private boolean stalled;
    private boolean seen;
    private long lastRead;
    /** The first sample of the current wait (packets queued, nothing read since), or -1. */
    private long waitingSince = -1;
    private long stalledAt;

    public StallGuard(long stallAfterNanos) {
        if (stallAfterNanos <= 0) {
            throw new IllegalArgumentException("stall_after must be positive");
        }
        this.stallAfterNanos = stallAfterNanos;
    }

    public boolean stalled() {
        return stalled;
    }

    /** When the current stall began (the clock's nanoseconds), meaningful while {@link #stalled()}. */
    public long stalledAt() {
        return stalledAt;
    }

    /**
     * One sample: {@code backlogPackets} waiting in the device's qdisc (all of its classes), and
     * {@code readerPackets}, the device's transmitted-packet counter (what the reader has taken).
     */
    public Action observe(long nowNanos, long backlogPackets, long readerPackets) {
        boolean moved = seen && readerPackets != lastRead;
        seen = true;
        lastRead = readerPackets;
        if (stalled) {
            if (!moved) {
                return Action.NONE;
            }
            stalled = false;
            waitingSince = -1;
            return Action.RESUME;
        }
        if (moved || backlogPackets == 0) {
            waitingSince = -1;
            return Action.NONE;
        }
        if (waitingSince < 0) {
            waitingSince = nowNanos;
        }
        if (nowNanos - waitingSince < stallAfterNanos) {
            return Action.NONE;
        }
        stalled = true;
        stalledAt = nowNanos;
        return Action.STALL;
    }
}
