package io.tunshape.pump;

/**
 * What one report interval measured: bytes and frames handed to the backend, the time the backend
 * was busy (blocked in a write, or transmitting in emulation), the capacity estimate (bytes / busy
 * time, or -1 when it was not busy long enough to tell), the pump's own backlog, the frames
 * waiting in tun's ring between the qdisc and the pump (-1 when unknown), the frames queued in the
 * root qdisc (-1 when unknown), and the device's tx_dropped counter (-1 when unknown); {@code endMs}
 * is when the interval ended, in ms since the pump started (and since the start of an emulated trace);
 * {@code kernelFlowControl} whether the device is open with the kernel's flow control (IFF_BACKPRESSURE).
 */
public record Interval(String dev, String netns, long intervalMs, long txBytes, long txFrames, long busyNanos,
                       long capacityBps, int backlog, long ring, long qdisc, long txDropped, long rxFrames,
                       long endMs, boolean kernelFlowControl) {
    /** Busy time needed before bytes / busy is reported as a capacity. */
    public static final long MIN_BUSY_NANOS = 50_000_000L;

    public long busyMs() {
        return busyNanos / 1_000_000;
    }

    /** The report protocol's JSON (SPEC section 6); extra fields after the contract ones. */
    public String toJson() {
        StringBuilder b = new StringBuilder(200);
        b.append("{\"v\":1,\"dev\":").append(quote(dev));
        if (netns != null) {
            b.append(",\"netns\":").append(quote(netns));
        }
        b.append(",\"interval_ms\":").append(intervalMs).append(",\"tx_bytes\":").append(txBytes)
                .append(",\"tx_frames\":").append(txFrames).append(",\"busy_ms\":").append(busyMs());
        if (capacityBps >= 0) {
            b.append(",\"capacity_bps\":").append(capacityBps);
        }
        b.append(",\"backlog\":").append(backlog);
        if (ring >= 0) {
            b.append(",\"ring\":").append(ring);
        }
        if (qdisc >= 0) {
            b.append(",\"qdisc\":").append(qdisc);
        }
        if (txDropped >= 0) {
            b.append(",\"tx_dropped\":").append(txDropped);
        }
        b.append(",\"rx_frames\":").append(rxFrames).append(",\"t_ms\":").append(endMs)
                .append(",\"kernel_flow_control\":").append(kernelFlowControl).append('}');
        return b.toString();
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    /** One line for people. */
    public String toText() {
        return String.format(java.util.Locale.ROOT, "%s: %d frames %d bytes in %d ms, busy %d ms, capacity %s, "
                        + "backlog %d, ring %s, qdisc %s, tx_dropped %s, kernel flow control %s", dev, txFrames, txBytes,
                intervalMs, busyMs(), capacityBps >= 0 ? capacityBps + " bit/s" : "-", backlog, ring >= 0 ? ring : "-",
                qdisc >= 0 ? qdisc : "-", txDropped >= 0 ? txDropped : "-", kernelFlowControl ? "on" : "off");
    }
}
