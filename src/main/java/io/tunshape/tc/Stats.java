package io.tunshape.tc;

/** Queue counters from TCA_STATS2. */
public record Stats(long bytes, long packets, long drops, long overlimits, long requeues, long backlog, long qlen) {
    public static final Stats ZERO = new Stats(0, 0, 0, 0, 0, 0, 0);
}
