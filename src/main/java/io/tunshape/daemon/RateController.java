package io.tunshape.daemon;

/**
 * Keeps one interface's shaping rate matched to its backend's measured capacity. Pure arithmetic
 * on an injected millisecond clock:
 * <ul>
 * <li>each report's capacity (the driver's {@code capacity_bps}, or tx_bytes / busy time when the
 * backend was busy long enough) is smoothed with an exponentially weighted moving average;</li>
 * <li>the target is the estimate less the headroom, less what drains the frames waiting in tun's
 * ring (between the qdisc and the pump, where nothing can hold them back: a full ring drops) within
 * the drain time, clamped to [min_rate, max_rate];</li>
 * <li>a change is made only when the target differs from the current rate by more than the
 * hysteresis, and never sooner than the minimum interval after the last change;</li>
 * <li>when a report finds the backend idle more than a tenth of the time while packets wait in
 * the qdisc, the shaper and not the link held them back (and a starved link's bytes over
 * busy time tell only a lower bound of what it can carry): the next change at least doubles the
 * rate, and brings it at least to that bound, up to max_rate;</li>
 * <li>when reports stop for {@code staleMs}, the rate returns to the profile's;</li>
 * <li>with a queue latency L (latency mode: the qdisc holds L at the rate), a fall below half the
 * highest rate of the last 2 L also empties the queue ({@link #takeFlush}): what the qdisc took in
 * at a rate r leaves within 2 L at r / 2 or more, and after a deeper fall it could not, so it is
 * dropped at once rather than kept waiting (the qdisc counts it as dropped). Falls within the
 * floor keep every queued packet within twice the latency.</li>
 * </ul>
 * Rates are in bit/s. The rate never leaves [min, max], so queued packets always drain. Safe to use
 * from several threads (the report thread, the loop's tick, status): every method holds this object.
 */
public final class RateController {
    /**
     * Tunables: smoothing weight of a new sample (0..1], hysteresis fraction, minimum interval,
     * staleness, the busy time a derived capacity needs, the time to drain tun's ring in, and the
     * ring the controller keeps standing (in time at the estimate) so that the backend never starves.
     */
    public record Tuning(double alpha, double hysteresis, long minIntervalMs, long staleMs, long minBusyMs,
                         long drainMs, long ringTargetMs) {
        public static final Tuning DEFAULT = new Tuning(0.5, 0.05, 500, 5000, 50, 1000, 300);
    }

    private final long baseBps;
    private final long minBps;
    private final long maxBps;
    private final double headroom;
    private final Tuning t;
    private double estimate = -1;
    /** Bits waiting in tun's ring at the last report, or -1 when the report did not tell. */
    private long queuedBits = -1;
    private long currentBps;
    private long lastReportMs = Long.MIN_VALUE;
    private long lastChangeMs = Long.MIN_VALUE;
    private long changes;
    /** The queue latency in ms (0: none, the fall is not bounded). */
    private final long latencyMs;
    /** Rates set within the last 2 L and when they ended (Long.MAX_VALUE: still in effect). */
    private final long[] pastBps = new long[16];
    private final long[] pastEndMs = new long[16];
    private int past;
    /** The rate the last report asks for at least (when it found the backend starved), or 0. */
    private long probeBps;
    /** Whether the last change fell below the floor: the queue should be emptied. */
    private boolean flush;
    private long flushes;

    public RateController(long baseBps, long minBps, long maxBps, double headroom, Tuning tuning) {
        this(baseBps, minBps, maxBps, headroom, tuning, 0);
    }

    /** With {@code latencyMs} > 0, a fall of the rate deeper than the class says empties the queue. */
    public RateController(long baseBps, long minBps, long maxBps, double headroom, Tuning tuning, long latencyMs) {
        if (minBps <= 0 || minBps > maxBps) {
            throw new IllegalArgumentException("need 0 < min_rate <= max_rate");
        }
        this.baseBps = Math.max(minBps, Math.min(maxBps, baseBps));
        this.minBps = minBps;
        this.maxBps = maxBps;
        this.headroom = headroom;
        this.t = tuning;
        this.currentBps = this.baseBps;
        this.latencyMs = Math.max(0, latencyMs);
    }

    /**
     * The lowest rate the queue drains within 2 L at: half the highest rate in effect within the last
     * 2 L (the current one included), or 0 without a latency.
     */
    public synchronized long floorBps(long nowMs) {
        if (latencyMs == 0) {
            return 0;
        }
        long highest = currentBps;
        int kept = 0;
        for (int i = 0; i < past; i++) {
            if (nowMs - pastEndMs[i] < 2 * latencyMs) {
                highest = Math.max(highest, pastBps[i]);
                pastBps[kept] = pastBps[i];
                pastEndMs[kept++] = pastEndMs[i];
            }
        }
        past = kept;
        return (highest + 1) / 2;
    }

    private void remember(long bps, long endMs) {
        if (latencyMs == 0) {
            return;
        }
        if (past == pastBps.length) {
            // keep the highest of the two oldest: the floor can only be as high or higher
            pastBps[1] = Math.max(pastBps[0], pastBps[1]);
            pastEndMs[1] = Math.max(pastEndMs[0], pastEndMs[1]);
            System.arraycopy(pastBps, 1, pastBps, 0, past - 1);
            System.arraycopy(pastEndMs, 1, pastEndMs, 0, past - 1);
            past--;
        }
        pastBps[past] = bps;
        pastEndMs[past++] = endMs;
    }

    /**
     * The capacity a report tells, in bit/s, or -1 when it tells none: the driver's own figure
     * ({@code capacityBps} >= 0; 0 is a link that carries nothing now), else bytes over busy time.
     */
    public synchronized long capacityOf(long capacityBps, long txBytes, long busyMs) {
        if (capacityBps >= 0) {
            return capacityBps;
        }
        if (busyMs >= t.minBusyMs()) {
            // busy and nothing got through (an outage) is a capacity of 0: the rate goes to min_rate
            return txBytes * 8 * 1000 / busyMs;
        }
        return -1;
    }

    /** Takes a report (capacity -1 = none) at {@code nowMs}. */
    public synchronized void report(long capacityBps, long nowMs) {
        report(capacityBps, -1, nowMs);
    }

    /** What a report's ring (frames in tun's ring, -1 unknown) means in bits, with frames of its average size. */
    public static long queuedBitsOf(long ringFrames, long txBytes, long txFrames) {
        if (ringFrames <= 0) {
            return ringFrames;
        }
        long frame = txFrames > 0 ? Math.max(1, txBytes / txFrames) : 1500;
        return ringFrames * frame * 8;
    }

    /** Takes a report: capacity (-1 = none) and the bits waiting in tun's ring (-1 = unknown). */
    public synchronized void report(long capacityBps, long queuedBits, long nowMs) {
        report(capacityBps, queuedBits, false, nowMs);
    }

    /**
     * Whether a report shows the shaper, not the link, holding traffic back: the backend idle for more
     * than a tenth of the interval (nothing in tun's ring for it to send) while packets wait in the
     * qdisc at its end.
     */
    public static boolean starved(long qdiscPackets, long busyMs, long intervalMs) {
        return qdiscPackets > 0 && busyMs * 10 < intervalMs * 9;
    }

    /**
     * Takes a report: capacity (-1 = none), the bits waiting in tun's ring (-1 = unknown) and
     * whether the backend starved while the qdisc held packets back ({@link #starved}).
     */
    public synchronized void report(long capacityBps, long queuedBits, boolean starved, long nowMs) {
        lastReportMs = nowMs;
        // starved: the link carried at least the sample while busy, and the shaper held back the rest
        probeBps = starved ? Math.max(2 * currentBps, capacityBps) : 0;
        this.queuedBits = queuedBits < 0 ? -1 : queuedBits;
        if (capacityBps < 0) {
            return;
        }
        estimate = estimate < 0 ? capacityBps : t.alpha() * capacityBps + (1 - t.alpha()) * estimate;
    }

    /** The rate the interface should have now: a new one when it should change, else -1. */
    public synchronized long tick(long nowMs) {
        long target;
        boolean stale = lastReportMs == Long.MIN_VALUE || nowMs - lastReportMs > t.staleMs();
        if (stale || estimate < 0) {
            target = baseBps;
            if (stale) {
                estimate = -1; // start afresh when reports come back
                queuedBits = -1;
                probeBps = 0;
            }
        } else {
            target = Math.round(estimate * (1 - headroom));
            if (queuedBits >= 0) {
                // steer tun's ring towards ring_target's worth of frames within the drain time: above
                // it the rate drops to drain it (a full ring drops), below it the rate rises so the
                // backend has a frame ready at every chance to send (capacity is measured only then)
                double standing = estimate * t.ringTargetMs() / 1000.0;
                target = Math.round(target + (standing - queuedBits) * 1000.0 / t.drainMs());
            }
        }
        target = Math.max(target, probeBps);
        target = Math.max(minBps, Math.min(maxBps, target));
        if (target == currentBps) {
            return -1;
        }
        boolean beyondHysteresis = Math.abs(target - currentBps) > t.hysteresis() * currentBps;
        boolean tooSoon = lastChangeMs != Long.MIN_VALUE && nowMs - lastChangeMs < t.minIntervalMs();
        if (!(beyondHysteresis || (stale && target == baseBps)) || tooSoon) {
            return -1;
        }
        if (target < floorBps(nowMs)) {
            // what the qdisc holds came in at up to twice this rate or more: it would wait past 2 L
            flush = true;
            flushes++;
            past = 0;
        } else {
            remember(currentBps, nowMs);
        }
        currentBps = target;
        lastChangeMs = nowMs;
        changes++;
        return target;
    }

    /** Whether the last change asks for the queue to be emptied; clears the request. */
    public synchronized boolean takeFlush() {
        boolean f = flush;
        flush = false;
        return f;
    }

    public synchronized long currentBps() {
        return currentBps;
    }

    /** The smoothed capacity estimate in bit/s, or -1 without reports. */
    public synchronized long estimateBps() {
        return estimate < 0 ? -1 : Math.round(estimate);
    }

    /** Milliseconds since the last report, or -1 when none came. */
    public synchronized long reportAgeMs(long nowMs) {
        return lastReportMs == Long.MIN_VALUE ? -1 : nowMs - lastReportMs;
    }

    public synchronized long changes() {
        return changes;
    }

    /** How many changes emptied the queue. */
    public synchronized long flushes() {
        return flushes;
    }

    /**
     * A rate to set: {@code seq} numbers the controller's changes in order, so that of two changes
     * sent from two threads the older never overwrites the newer in the kernel.
     */
    public record Change(long bps, boolean flush, long seq) {
    }

    /** Takes a report at {@code nowMs}: the change it asks for, or null. */
    synchronized Change onReport(ReportParser.Report r, long nowMs) {
        report(capacityOf(r.capacityBps(), r.txBytes(), r.busyMs()), queuedBitsOf(r.ring(), r.txBytes(), r.txFrames()),
                starved(r.qdisc(), r.busyMs(), r.intervalMs()), nowMs);
        return onTick(nowMs);
    }

    /** The change due at {@code nowMs} without a report (a deferred one, or the fall back when reports stop), or null. */
    public synchronized Change onTick(long nowMs) {
        long bps = tick(nowMs);
        return bps > 0 ? new Change(bps, takeFlush(), changes) : null;
    }

    /** The rate in effect, as a change numbered as the last one (a pass that set it sets this). */
    public synchronized Change current() {
        return new Change(currentBps, false, changes);
    }
}
