package io.tunshape.pump;

/**
 * Frames waiting in tun's ring: what the qdisc handed to tun less what the pump read and what the
 * full ring dropped, followed from interval to interval from 0 when the pump attached (tun's ring
 * is empty then: a device without a reader drops instead of queueing). A qdisc that appeared or was
 * replaced since the last interval (the device came up, its counter went back, its handle changed)
 * counts from 0. Pure arithmetic on the counters it is given.
 */
final class RingEstimate {
    /** The counters at the last interval's end, and the frames then in tun's ring (unclamped). */
    private DeviceCounters last;
    private long frames;

    /** The counters when the pump attached (null: unknown): the ring's zero. */
    void start(DeviceCounters c) {
        last = c;
        frames = 0;
    }

    /** Frames in the ring now, at least 0, or -1 when the device has no qdisc to count with. */
    long next(DeviceCounters c) {
        DeviceCounters p = last;
        last = c;
        if (p == null) {
            frames = 0;
            return c.qdiscPackets() < 0 ? -1 : 0;
        }
        long out = (c.txPackets() - p.txPackets()) + (c.txDropped() - p.txDropped());
        if (c.qdiscPackets() < 0) {
            frames -= out;
            return -1;
        }
        boolean fresh = p.qdiscPackets() < 0 || p.qdiscHandle() != c.qdiscHandle() || c.qdiscPackets() < p.qdiscPackets();
        long in = c.qdiscPackets() - (fresh ? 0 : p.qdiscPackets());
        // the sum is kept as it comes: the two counters are read a moment apart, so an interval may
        // be a few frames over and the next as many under; cutting the unders at 0 would make that
        // noise add up
        frames += in - out;
        return Math.max(0, frames);
    }
}
