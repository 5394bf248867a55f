package io.tunshape.tc;

/**
 * The kernel's view of a rate (psched_ratecfg in net/sched/sch_generic.c): a multiply-and-shift
 * that turns a packet length into nanoseconds. Mirrors the kernel so tunshape can predict exactly
 * what a qdisc will read back, and so tell "already applied" from "different".
 */
public final class KernelRate {
    private final long mult;
    private final int shift;
    private final int overhead;
    private final int mpu;

    public KernelRate(long bytesPerSecond, int overhead, int mpu) {
        this.overhead = overhead;
        this.mpu = mpu;
        long m = 1;
        int s = 0;
        if (bytesPerSecond > 0) {
            long factor = 1_000_000_000L;
            while (true) {
                m = Long.divideUnsigned(factor, bytesPerSecond);
                if ((m & (1L << 31)) != 0 || (factor & (1L << 63)) != 0) {
                    break;
                }
                factor <<= 1;
                s++;
            }
        }
        this.mult = m & 0xFFFFFFFFL;
        this.shift = s;
    }

    /** The largest length whose time does not wrap the kernel's u64 product. */
    public long maxLength() {
        return Long.divideUnsigned(-1L, mult) - overhead;
    }

    /** psched_l2t_ns for an Ethernet-linklayer rate. */
    public long lengthToNanos(long len) {
        len += overhead;
        if (len < mpu) {
            len = mpu;
        }
        // (u64)len * mult >> shift: u64 arithmetic that wraps, exactly as the kernel computes it
        return (len * mult) >>> shift;
    }
}
