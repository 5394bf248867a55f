package io.tunshape.profile;

import io.tunshape.tc.FlowQueues;
import io.tunshape.tc.HtbClassSpec;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.Psched;
import io.tunshape.tc.QdiscSpec;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;
import io.tunshape.tc.TbfSpec;
import io.tunshape.tc.U32Filter;
import io.tunshape.tc.U32FlowHash;

import java.util.ArrayList;
import java.util.List;

import static io.tunshape.tc.TreeLayout.FIRST_CLASS_MINOR;
import static io.tunshape.tc.TreeLayout.FIRST_FLOW_MINOR;
import static io.tunshape.tc.TreeLayout.LINK_CLASS;

/**
 * Turns a request into the kernel model for one device. Everything that would break traffic is
 * refused here, before the kernel is touched; what is legal but harmful becomes a warning.
 */
public final class Planner {
    public static final int HTB_R2Q = 10;
    public static final long HTB_DIRECT_QLEN = 16;
    /** htb warns (and clamps) above this quantum. */
    public static final int HTB_MAX_QUANTUM = 200_000;
    /** Default bucket: one millisecond of traffic, and never less than one full frame. */
    public static final long BURST_MICROS = 1000;
    /** Derived txqueuelen: about one second of full frames, within these bounds. */
    public static final long TXQ_MIN = 2;
    public static final long TXQ_MAX = 1000;
    /** The small packets a ring must hold a bucketful of (a 64-byte frame). */
    static final int SMALL_PACKET = 64;

    private final Psched psched;
    private final long wmemDefault;

    /**
     * {@code wmemDefault}: the send buffer a local socket gets unless it asks otherwise (the host's
     * net.core.wmem_default, read by the caller: {@link HostDefaults#wmemDefault}).
     */
    public Planner(Psched psched, long wmemDefault) {
        this.psched = psched;
        this.wmemDefault = wmemDefault;
    }

    public Plan plan(ShapingRequest r, Device dev) {
        return plan(r, dev, true);
    }

    /**
     * The plan, with its explanation and warnings when {@code explained}; without (both empty), it makes
     * only the spec and txqueuelen, and none of the text: the daemon's path for each rate change.
     */
    public Plan plan(ShapingRequest r, Device dev, boolean explained) {
        Sizing s = Sizing.of(r, dev, psched, wmemDefault);
        List<HtbClassSpec> sized = new ArrayList<>();
        QdiscSpec spec = s.htb() ? htb(r, s, sized)
                : new TbfSpec(s.rate(), s.burst(), Size.of(s.limit()), r.overhead(), r.mpu());
        if (!explained) {
            return new Plan(spec, s.txqueuelen(), List.of(), List.of());
        }
        Explanation e = Explanation.of(r, dev, s, spec, sized, psched, wmemDefault);
        return new Plan(spec, s.txqueuelen(), e.lines, e.warnings);
    }

    /**
     * Why {@code r} must not be applied to {@code dev}, or null: with no rate ({@code rate reader})
     * only the kernel's flow control keeps tun from dropping what its ring cannot hold. Apply refuses
     * with this; a dry run and a plan's explanation carry it as a warning.
     */
    public static String readerRefusal(ShapingRequest r, Device dev) {
        if (!r.readerPaced() || dev.flowControl()) {
            return null;
        }
        String flags = dev.tunFlags() == null ? "it has " + dev.flagsText() + ", so not IFF_BACKPRESSURE"
                : "its " + dev.flagsText() + " lack IFF_BACKPRESSURE";
        return "rate reader on " + dev.name() + ": " + flags + " (0x0080, Linux 7.3's kernel flow control), so "
                + "nothing paces the qdisc: tun would drop every packet beyond its ring. Give a rate (the backend's payload rate, e.g. 1mbit), or attach the device with "
                + "IFF_BACKPRESSURE";
    }

    /**
     * htb: a link class with flow queues, one class, or priority classes; {@code sized} gets the
     * classes with their limits.
     */
    private HtbSpec htb(ShapingRequest r, Sizing s, List<HtbClassSpec> sized) {
        if (s.flows() > 0 && r.classes().isEmpty()) {
            HtbClassSpec link = new HtbClassSpec(LINK_CLASS, 0, s.rate(), s.ceil(), s.burst(), s.cburst(), 0,
                    s.quantum(), r.overhead(), r.mpu(), null, "link");
            FlowQueues fq = flowQueues(r, LINK_CLASS, 0, s.rate(), s.frame(), s.limit(), s.mode(), true);
            sized.add(link);
            return new HtbSpec(fq.firstMinor(), HTB_R2Q, HTB_DIRECT_QLEN, List.of(link), List.of(), fq);
        }
        if (r.classes().isEmpty()) {
            HtbClassSpec cls = new HtbClassSpec(LINK_CLASS, s.rate(), s.ceil(), s.burst(), s.cburst(), 0, s.quantum(),
                    r.overhead(), r.mpu(), Size.of(s.limit()));
            sized.add(cls);
            return new HtbSpec(LINK_CLASS, HTB_R2Q, HTB_DIRECT_QLEN, List.of(cls));
        }
        return classes(r, s, sized);
    }

    /** The flow filter's priority: after every u32 filter of the priority classes. */
    public static final int FLOW_FILTER_PRIO = io.tunshape.tc.Tc.FLOW_FILTER_PRIO;
    /** A flow queue's ceiling: none of its own (32gbit, near the largest 32-bit rate); its parent's rate limits it. */
    static final Rate FLOW_CEIL = Rate.ofBytes(4_000_000_000L);

    /**
     * {@code flows} leaf classes under {@code parentMinor}, at priority {@code prio}, quantum one full
     * frame, each guaranteed an equal share of {@code rate} (of the request's floor when lower: an
     * adaptive link's min_rate, so a rate change moves only the parent). htb serves a queue within
     * its share first (a sparse flow: it waits for the frame on the wire and little else), and the
     * rest in turn as they borrow from the parent, a quantum at a time (deficit round robin).
     * Each queue's limit: in backpressure mode the whole queue's (so the planned senders block
     * before a queue drops, however they hash); in latency mode {@code rate} x latency / flows plus a
     * frame, so a flow waits at most the latency even with every queue busy.
     */
    private FlowQueues flowQueues(ShapingRequest r, int parentMinor, int prio, Rate rate, int frame, long limit,
                                  Mode mode, boolean floorApplies) {
        int n = r.flows();
        long leafLimit = limit;
        if (mode == Mode.LATENCY && r.latency() != null) {
            leafLimit = RateSizes.flowLatencyLimit(rate.bytesPerSecond(), r.latency().micros(), n, frame);
        } else if (mode == Mode.LATENCY) {
            leafLimit = Math.max(frame, limit / n);
        }
        Rate base = floorApplies && r.flowFloor() != null && r.flowFloor().compareTo(rate) < 0 ? r.flowFloor() : rate;
        Rate share = Rate.ofBytes(Math.max(1, base.bytesPerSecond() / n));
        // a bucket of one byte: a queue within its share sends one packet on credit and then waits
        // until its share has paid for it. htb adds the time a queue spent borrowing to its credit
        // without a cap, so a larger bucket would let a bulk queue send a bucketful at once on top of
        // what the link class lends: at 9600 bit/s each such extra frame is 0.86 s in tun's ring.
        HtbClassSpec leaf = new HtbClassSpec(FIRST_FLOW_MINOR, parentMinor, share, FLOW_CEIL,
                Size.of(1), Size.of(frame), prio, frame, r.overhead(), r.mpu(),
                Size.of(leafLimit), null);
        FlowQueues.Classifier c = r.classifier() == null ? FlowQueues.Classifier.BPF : r.classifier();
        if (c == FlowQueues.Classifier.U32 && n > U32FlowHash.MAX_BUCKETS) {
            throw new PlanException("flows", n + " queues is more than the u32 flow classifier reaches (a u32 hash "
                    + "table has at most " + U32FlowHash.MAX_BUCKETS + " buckets"
                    + (r.classifierNote() != null ? "; " + r.classifierNote() : "") + "); give at most "
                    + U32FlowHash.MAX_BUCKETS + " flow queues");
        }
        return new FlowQueues(n, parentMinor, FIRST_FLOW_MINOR, leaf, FLOW_FILTER_PRIO, c);
    }

    /**
     * htb with priority classes: a link class at the link rate, one leaf class per profile class
     * under it (ceil defaults to the link rate, so idle bandwidth is lent), each with a bfifo, and
     * u32 filters (IPv4 and IPv6) that send matching traffic to its class. With flows, the default
     * class's traffic is spread over flow queues under it.
     */
    private HtbSpec classes(ShapingRequest r, Sizing s, List<HtbClassSpec> sized) {
        List<U32Filter> filters = new ArrayList<>();
        sized.add(new HtbClassSpec(LINK_CLASS, 0, s.rate(), s.ceil(), s.burst(), s.cburst(), 0, s.quantum(),
                r.overhead(), r.mpu(), null, "link"));
        int dflt = 0;
        int prio = 1;
        for (int i = 0; i < r.classes().size(); i++) {
            Profile.ClassDef c = r.classes().get(i);
            int minor = FIRST_CLASS_MINOR + i;
            sized.add(sizeClass(r, s, c, minor));
            if (c.isDefault()) {
                dflt = minor;
            }
            if (c.match() != null) {
                filters.add(new U32Filter(prio++, U32Filter.ETH_P_IP, keys(c.match(), false), minor));
                filters.add(new U32Filter(prio++, U32Filter.ETH_P_IPV6, keys(c.match(), true), minor));
            }
        }
        if (r.flows() == 0) {
            return new HtbSpec(dflt, HTB_R2Q, HTB_DIRECT_QLEN, sized, filters);
        }
        // the priority classes stay beside the default one, above the flows when their prio is lower
        List<HtbClassSpec> out = new ArrayList<>(sized);
        HtbClassSpec c = sized.get(dflt - FIRST_CLASS_MINOR + 1);
        out.set(dflt - FIRST_CLASS_MINOR + 1, new HtbClassSpec(c.minor(), c.parentMinor(), c.rate(), c.ceil(),
                c.burst(), c.cburst(), c.prio(), c.quantum(), c.overhead(), c.mpu(), null, c.name()));
        // under a class of the profile's fixed rate: an adaptive change does not move it
        FlowQueues fq = flowQueues(r, dflt, c.prio(), c.rate(), s.frame(), c.limit().bytes(), s.mode(), false);
        return new HtbSpec(fq.firstMinor(), HTB_R2Q, HTB_DIRECT_QLEN, out, filters, fq);
    }

    /** One profile class under the link class: its buckets within htb's reach, its queue, its quantum. */
    private HtbClassSpec sizeClass(ShapingRequest r, Sizing s, Profile.ClassDef c, int minor) {
        int frame = s.frame();
        Rate cceil = c.ceil() != null ? c.ceil() : s.ceil();
        long maxBurst = RateSizes.maxBucket(psched, c.rate().bytesPerSecond());
        Size cb = Size.of(Math.min(Math.max(s.burst().bytes(), frame), Math.max(1, maxBurst)));
        long maxCburst = RateSizes.maxBucket(psched, cceil.bytesPerSecond());
        Size ccb = Size.of(Math.min(Math.max(s.cburst().bytes(), frame), Math.max(1, maxCburst)));
        long climit = s.limit();
        if (s.mode() == Mode.LATENCY && r.latency() != null) {
            climit = RateSizes.latencyLimit(c.rate().bytesPerSecond(), r.latency().micros(), cb.bytes());
        }
        int q = c.quantum() != null ? c.quantum() : RateSizes.quantum(c.rate().bytesPerSecond(), frame);
        return new HtbClassSpec(minor, LINK_CLASS, c.rate(), cceil, cb, ccb, c.prio(), q, r.overhead(), r.mpu(),
                Size.of(climit), c.name());
    }

    /** u32 keys for a match: offsets from the IP header (IPv6 without extension headers). */
    static List<U32Filter.Key> keys(Profile.Match m, boolean v6) {
        List<U32Filter.Key> k = new ArrayList<>();
        if (m.dscp() != null) {
            k.add(v6 ? new U32Filter.Key(0x0fc00000L, (long) m.dscp() << 22, 0)
                    : new U32Filter.Key(0x00fc0000L, (long) m.dscp() << 18, 0));
        }
        if (m.protocol() != null) {
            k.add(v6 ? new U32Filter.Key(0x0000ff00L, (long) m.protocol() << 8, 4)
                    : new U32Filter.Key(0x00ff0000L, (long) m.protocol() << 16, 8));
        }
        int l4 = v6 ? 40 : 20;
        if (m.sport() != null) {
            k.add(new U32Filter.Key(0xffff0000L, (long) m.sport() << 16, l4));
        }
        if (m.dport() != null) {
            k.add(new U32Filter.Key(0x0000ffffL, m.dport(), l4));
        }
        return k;
    }
}
