package io.tunshape.tc;

/**
 * One htb class. {@code limit} is the byte limit of the class's leaf bfifo (tunshape installs one so
 * that the queue is sized in bytes, as for tbf, instead of htb's default pfifo of txqueuelen packets).
 */
public record HtbClassSpec(int minor, Rate rate, Rate ceil, Size burst, Size cburst, int prio, int quantum,
                           int overhead, int mpu, Size limit) {
}
