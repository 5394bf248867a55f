package io.tunshape.tc;

/** An htb qdisc's globals as the kernel dumps them. */
public record HtbKernel(long r2q, long defaultMinor, long directQlen, long directPackets) {
    /** The fields a user sets (direct_pkts is a counter). */
    public boolean sameSettings(HtbKernel o) {
        return r2q == o.r2q && defaultMinor == o.defaultMinor && directQlen == o.directQlen;
    }
}
