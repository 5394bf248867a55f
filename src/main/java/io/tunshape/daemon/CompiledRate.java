package io.tunshape.daemon;

import io.tunshape.profile.RateSizes;
import io.tunshape.profile.ShapingRequest;
import io.tunshape.shape.FastRateChange;
import io.tunshape.tc.FlowQueues;
import io.tunshape.tc.HtbClassSpec;
import io.tunshape.tc.HtbRateTemplate;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.Psched;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import io.tunshape.tc.TreeLayout;

import java.util.List;
import java.util.function.LongFunction;

/**
 * What a rate change of one adaptive device needs, kept by the pass that shaped it: the class that
 * carries the link's rate (its handle, its parent, and every field that does not follow the rate:
 * priority, overhead, mpu), its leaf, and the sizes that do follow the rate (burst, quantum, the
 * leaf's limit) as functions of it. A report's change is then these functions and one class message
 * (and the leaf's limit), with no planner.
 *
 * <p>The sizes follow the planner's rules for an adaptive device (htb, the ceiling at the rate, the
 * burst a millisecond at the rate unless the profile gives one, the leaf a latency at the rate plus
 * the burst, or the senders' buffers plus the burst). {@link #compile} holds them against the
 * planner's own plans at min_rate, at the rate of the pass and at max_rate: where any field differs,
 * or the tree has priority classes (whose sizes follow the link's in more ways), the change is not
 * compiled and each one is planned, as before.
 */
final class CompiledRate {
    private final int ifindex;
    /** The plan of the pass: what does not follow the rate comes from it. */
    private final HtbSpec planned;
    /** Non-null when compiled: the request the sizes follow, the device's largest frame. */
    private final Sizes sizes;
    /** The planner, for a tree the sizes do not cover. */
    private final LongFunction<HtbSpec> plan;
    /**
     * When compiled: the class's messages, encoded once, that a change rewrites in place and sends
     * under the template's monitor (a device outlives its namespace's sockets: after a failed pass, a
     * new RateLink's settle may send while the report thread is still inside the old one's); null when
     * the planned rate does not fit them.
     */
    private final HtbRateTemplate template;

    private CompiledRate(int ifindex, HtbSpec planned, Sizes sizes, LongFunction<HtbSpec> plan,
                         HtbRateTemplate template) {
        this.ifindex = ifindex;
        this.planned = planned;
        this.sizes = sizes;
        this.plan = plan;
        this.template = template;
    }

    /** The rate-dependent sizes of a one-class tree, or of a link class over flow queues. */
    private record Sizes(ShapingRequest req, int frame, Psched psched, long senderBytes) {
        long burst(long bytesPerSecond) {
            if (req.burst() != null) {
                if (!psched.fits(bytesPerSecond, req.burst().bytes())) {
                    throw new IllegalArgumentException("the profile's burst does not fit htb's bucket at this rate");
                }
                return req.burst().bytes();
            }
            long b = RateSizes.burst(bytesPerSecond, frame);
            return psched.fits(bytesPerSecond, b) ? b : RateSizes.maxBucket(psched, bytesPerSecond);
        }

        int quantum(long bytesPerSecond) {
            return RateSizes.quantum(bytesPerSecond, frame);
        }

        /** The queue's limit: a latency at the rate plus the burst, the profile's, or the senders' buffers plus the burst. */
        long limit(long bytesPerSecond, long burst) {
            if (req.limit() != null) {
                return req.limit().bytes();
            }
            if (req.latency() != null) {
                return RateSizes.latencyLimit(bytesPerSecond, req.latency().micros(), burst);
            }
            return senderBytes + burst;
        }
    }

    /**
     * Compiles the change for a device shaped with {@code planned} (its plan at {@code req}'s rate);
     * {@code plan} plans at a rate in bit/s. Never null: what cannot be compiled is planned at each change.
     */
    static CompiledRate compile(int ifindex, ShapingRequest req, HtbSpec planned, int frame, Psched psched,
                                LongFunction<HtbSpec> plan, long minBps, long maxBps) {
        CompiledRate planner = new CompiledRate(ifindex, planned, null, plan, null);
        if (planned.classes().size() != 1 || req.ceil() != null) {
            return planner;
        }
        HtbClassSpec c = planned.classes().get(0);
        long senderBytes = c.limit() == null ? 0 : c.limit().bytes() - c.burst().bytes();
        FlowQueues fq = planned.flows();
        if (fq != null && fq.leaf().limit() != null && req.limit() == null && req.latency() == null) {
            senderBytes = fq.leaf().limit().bytes() - c.burst().bytes(); // backpressure: each queue holds the whole
        }
        Sizes sizes = new Sizes(req, frame, psched, senderBytes);
        CompiledRate compiled = new CompiledRate(ifindex, planned, sizes, plan, null);
        try {
            for (long bps : new long[] {minBps, req.rate().bitsPerSecond(), maxBps}) {
                HtbSpec want = plan.apply(bps);
                HtbSpec got = compiled.specAt(bps, true);
                if (!want.classes().equals(got.classes()) || (want.flows() != null
                        && !want.flows().leaf().limit().equals(got.flows().leaf().limit()))) {
                    return planner;
                }
            }
        } catch (RuntimeException e) {
            return planner; // a rate the sizes (or the planner) refuse: plan each change
        }
        HtbRateTemplate template = !HtbRateTemplate.fits(c) ? null : HtbRateTemplate.of(new TcCodec(psched), ifindex,
                TreeLayout.classHandle(c.minor()), TreeLayout.parentHandle(c), c, TreeLayout.leafHandle(c.minor()));
        return new CompiledRate(ifindex, planned, sizes, plan, template);
    }

    /** Whether a change is made without the planner. */
    boolean compiled() {
        return sizes != null;
    }

    /** The tree at {@code bps}: the class carrying the rate, and the flow queues' leaves when {@code flush}. */
    HtbSpec specAt(long bps, boolean flush) {
        if (sizes == null) {
            return plan.apply(bps);
        }
        HtbClassSpec now = classAt(bps);
        long bytes = now.rate().bytesPerSecond();
        long burst = now.burst().bytes();
        FlowQueues fq = planned.flows();
        if (fq != null && flush) {
            HtbClassSpec l = fq.leaf();
            long leafLimit = l.limit().bytes();
            if (sizes.req().latency() != null) {
                leafLimit = RateSizes.flowLatencyLimit(bytes, sizes.req().latency().micros(), fq.count(), sizes.frame());
            } else if (sizes.req().limit() == null) {
                leafLimit = sizes.limit(bytes, burst);
            }
            fq = new FlowQueues(fq.count(), fq.parentMinor(), fq.firstMinor(), new HtbClassSpec(l.minor(),
                    l.parentMinor(), l.rate(), l.ceil(), l.burst(), l.cburst(), l.prio(), l.quantum(), l.overhead(),
                    l.mpu(), Size.of(leafLimit), l.name()), fq.filterPrio(), fq.classifier());
        }
        return new HtbSpec(planned.defaultMinor(), planned.r2q(), planned.directQlen(), List.of(now),
                planned.filters(), fq);
    }

    /** The class carrying the link's rate at {@code bps}, with its leaf's limit (compiled only). */
    private HtbClassSpec classAt(long bps) {
        Rate rate = Rate.ofBits(bps);
        long bytes = rate.bytesPerSecond();
        long burst = sizes.burst(bytes);
        HtbClassSpec c = planned.classes().get(0);
        Size limit = c.limit() == null ? null : Size.of(sizes.limit(bytes, burst));
        return new HtbClassSpec(c.minor(), c.parentMinor(), rate, rate, Size.of(burst), Size.of(burst),
                c.prio(), sizes.quantum(bytes), c.overhead(), c.mpu(), limit, c.name());
    }

    /**
     * Sets the rate over {@code tc}: each class changed in place (no rate tables: the kernel does not
     * read them for our ratespecs), its leaf's limit with it; when {@code flush}, every leaf is
     * replaced, empty (flow queues borrow everything from their parent, so a new rate moves none of
     * their classes, but their queues are emptied too).
     */
    void send(TcClient tc, long bps, boolean flush) {
        if (template != null && !flush) {
            HtbClassSpec c = classAt(bps);
            if (HtbRateTemplate.fits(c)) {
                synchronized (template) { // the same messages as below, rewritten in place
                    tc.sendAll(template.at(c));
                }
                return;
            }
        }
        FastRateChange.changeHtbInPlace(tc, ifindex, specAt(bps, flush), flush);
    }
}
