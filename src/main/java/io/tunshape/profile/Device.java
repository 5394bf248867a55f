package io.tunshape.profile;

/**
 * What the planner needs to know of a device: its largest frame, its current ring size, and the
 * flags it was attached with ({@code tunFlags}, sysfs's tun_flags as the caller read it; null: not
 * known, or not a tun/tap device). The planner does no I/O: the caller reads the flags.
 */
public record Device(String name, int mtu, int linkHeader, long txqueuelen, Integer tunFlags) {
    /** IFF_BACKPRESSURE (Linux 7.3): a full ring stops the device's queue instead of dropping. */
    public static final int IFF_BACKPRESSURE = 0x0080;

    /** A device whose flags are not known: planned as one without kernel flow control. */
    public Device(String name, int mtu, int linkHeader, long txqueuelen) {
        this(name, mtu, linkHeader, txqueuelen, null);
    }

    public int maxFrame() {
        return mtu + linkHeader;
    }

    /** True when the device has the kernel's flow control (its tun_flags carry IFF_BACKPRESSURE). */
    public boolean flowControl() {
        return tunFlags != null && (tunFlags & IFF_BACKPRESSURE) != 0;
    }

    /** The flags in words for messages: "tun_flags 0x1001", or that none were read. */
    public String flagsText() {
        return tunFlags == null ? "no tun_flags (not a tun/tap device, or not readable)"
                : "tun_flags 0x" + Integer.toHexString(tunFlags);
    }
}
