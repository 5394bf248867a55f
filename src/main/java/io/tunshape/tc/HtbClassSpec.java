package io.tunshape.tc;

/**
 * One htb class; {@code parentMinor} 0 means directly under the qdisc. {@code limit} is the byte limit of the class's leaf bfifo (tunshape installs one so
 * that the queue is sized in bytes, as for tbf, instead of htb's default pfifo of txqueuelen packets).
 */
public record HtbClassSpec(int minor, int parentMinor, Rate rate, Rate ceil, Size burst, Size cburst, int prio,
                           int quantum, int overhead, int mpu, Size limit, String name) {
    /** A class directly under the qdisc, without a name. */
    public HtbClassSpec(int minor, Rate rate, Rate ceil, Size burst, Size cburst, int prio, int quantum, int overhead,
                        int mpu, Size limit) {
        this(minor, 0, rate, ceil, burst, cburst, prio, quantum, overhead, mpu, limit, null);
    }
}
