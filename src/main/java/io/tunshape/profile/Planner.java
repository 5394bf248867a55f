package io.tunshape.profile;

import io.tunshape.tc.Duration;
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

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns a request into the kernel model for one device. Everything that would break traffic is
 * refused here, before the kernel is touched; what is legal but harmful becomes a warning.
 */
public final class Planner {
    /** The htb class every tunshape htb sends unclassified traffic to. */
    public static final int HTB_CLASS = 1;
    public static final int HTB_R2Q = 10;
    public static final long HTB_DIRECT_QLEN = 16;
    /** htb warns (and clamps) above this quantum. */
    public static final int HTB_MAX_QUANTUM = 200_000;
    /** Default bucket: one millisecond of traffic, and never less than one full frame. */
    public static final long BURST_MICROS = 1000;
    private static final long U32 = 0xFFFFFFFFL;
    /** Derived txqueuelen: about one second of full frames, within these bounds. */
    public static final long TXQ_MIN = 2;
    public static final long TXQ_MAX = 1000;
    /** The small packets a ring must hold a bucketful of (a 64-byte frame). */
    static final int SMALL_PACKET = 64;

    private final Psched psched;
    private final long wmemDefault;

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
        List<String> warnings = new ArrayList<>();
        int flows = r.flows();
        if (flows != 0 && (flows < 2 || flows > MAX_FLOWS)) {
            throw new PlanException("flows", flows + " is out of range; accepted: 2 to " + MAX_FLOWS
                    + " flow queues, or 0 for one queue shared by every flow");
        }
        // flow queues are htb classes: flows alone imply htb
        String qdisc = r.qdisc() == null ? (flows > 0 ? "htb" : "tbf") : r.qdisc();
        if (!qdisc.equals("tbf") && !qdisc.equals("htb")) {
            throw new PlanException("qdisc", "'" + qdisc + "' is not supported; accepted: tbf, htb");
        }
        if (flows > 0 && !qdisc.equals("htb")) {
            throw new PlanException("flows", "flow queues are htb classes; use --qdisc htb (or leave --qdisc out)");
        }
        Rate rate = r.rate();
        if (rate == null) {
            throw new PlanException("rate", "missing; give the backend's payload rate, e.g. 9600bit or 1mbit");
        }
        if (rate.bytesPerSecond() == 0) {
            throw new PlanException("rate", "'" + text(r) + "' is 0 bytes/s; the kernel counts whole bytes per second, "
                    + "so the smallest rate is 8bit (a rate of 0 would let tbf run unshaped at line speed)");
        }
        if (explained && r.rateText() != null) {
            try {
                BigDecimal bits = io.tunshape.tc.Units.parseRateBits(r.rateText());
                if (bits.compareTo(BigDecimal.valueOf(rate.bitsPerSecond())) != 0) {
                    warnings.add("rate " + r.rateText() + " is not a whole number of bytes per second; the kernel holds "
                            + rate + " (" + rate.bytesPerSecond() + " bytes/s)");
                }
            } catch (IllegalArgumentException ignored) {
                // already parsed once; the text is informative only
            }
        }
        checkRange("overhead", r.overhead(), 0, 65535, "bytes the backend adds to every frame");
        checkRange("mpu", r.mpu(), 0, 65535, "minimum packet unit in bytes");
        int frame = dev.maxFrame();

        Size burst = r.burst();
        if (burst == null) {
            long oneMs = (long) Math.ceil(rate.bytesPerSecond() * (BURST_MICROS / 1e6));
            burst = Size.of(Math.max(frame, oneMs));
        } else if (burst.bytes() < frame) {
            throw new PlanException("burst", burst.bytes() + " bytes is below one full frame on " + dev.name() + " ("
                    + frame + " bytes: mtu " + dev.mtu() + " + " + dev.linkHeader() + " link header); the kernel would "
                    + "accept it and drop every larger packet. Use at least " + frame + "b, or leave the burst to tunshape");
        }
        if (burst.bytes() > U32) {
            throw new PlanException("burst", burst.bytes() + " bytes does not fit the kernel's 32-bit field");
        }
        boolean htb = qdisc.equals("htb");
        long maxBucket = (long) Math.floor(psched.maxMicros() * rate.bytesPerSecond() / 1e6);
        String bucketNote = null;
        if (htb && !psched.fits(rate.bytesPerSecond(), burst.bytes())) {
            // htb keeps its bucket in 32-bit ticks (tbf keeps bytes and recomputes in 64-bit ns)
            if (r.burst() != null) {
                throw new PlanException("burst", burst.bytes() + " bytes takes "
                        + Duration.format(rate.microsFor(burst.bytes())) + " to send at " + rate
                        + "; htb's bucket holds at most " + String.format(java.util.Locale.ROOT, "%.1f s",
                        psched.maxMicros() / 1e6) + " of traffic (32-bit ticks of 64 ns). Use a burst of at most "
                        + maxBucket + "b, or tbf");
            }
            burst = Size.of(maxBucket);
            bucketNote = !explained ? null : "htb's bucket holds at most " + String.format(java.util.Locale.ROOT, "%.1f s",
                    psched.maxMicros() / 1e6) + " of traffic (" + maxBucket + " bytes at " + rate + "), less than one "
                    + "frame: frames still pass at the rate, each sent on credit";
        }
        Mode mode = r.mode();
        if (r.limit() != null && r.latency() != null) {
            throw new PlanException("limit", "give either a limit or a latency, not both");
        }
        if (mode == null) {
            mode = r.limit() != null || r.latency() != null ? Mode.LATENCY : Mode.BACKPRESSURE;
        }
        if (mode == Mode.LATENCY && r.limit() == null && r.latency() == null) {
            throw new PlanException("latency", "latency mode needs --latency TIME (the longest wait in the queue) or "
                    + "--limit SIZE");
        }
        if (mode == Mode.BACKPRESSURE && r.latency() != null) {
            throw new PlanException("latency", "backpressure mode sizes the queue from the senders' socket buffers; "
                    + "--latency belongs to latency mode (--mode latency)");
        }
        int senders = r.senders() <= 0 ? 1 : r.senders();
        long senderBytes = (long) senders * wmemDefault;
        long limit;
        if (r.limit() != null) {
            limit = r.limit().bytes();
            if (limit == 0) {
                throw new PlanException("limit", "0 bytes makes the qdisc drop every packet while senders see success; "
                        + "give a size of at least the burst (" + burst.bytes() + "b)");
            }
        } else if (r.latency() != null) {
            if (r.latency().micros() == 0) {
                throw new PlanException("latency", "0 leaves no room to queue; give a time such as 500ms or 2s");
            }
            // tc's formula: limit = rate * latency + burst
            BigDecimal l = BigDecimal.valueOf(rate.bytesPerSecond()).multiply(BigDecimal.valueOf(r.latency().micros()))
                    .divide(BigDecimal.valueOf(1_000_000), 0, java.math.RoundingMode.DOWN).add(BigDecimal.valueOf(burst.bytes()));
            if (l.compareTo(BigDecimal.valueOf(U32)) > 0) {
                throw new PlanException("latency", r.latency() + " at " + rate + " is " + l + " bytes of queue, more "
                        + "than the kernel's 32-bit limit holds; give a shorter latency");
            }
            limit = l.longValue();
        } else {
            limit = senderBytes + burst.bytes();
        }
        if (limit < burst.bytes()) {
            throw new PlanException("limit", limit + " bytes is below the burst (" + burst.bytes() + " bytes); the queue "
                    + "must hold at least one bucketful. Raise the limit or lower the burst");
        }
        if (limit > U32) {
            throw new PlanException("limit", limit + " bytes does not fit the kernel's 32-bit field");
        }
        Long txq = r.txqueuelen();
        if (txq == null && r.deriveTxqueuelen()) {
            // tun's ring sits after the qdisc: about a second of full frames at the rate, but never less
            // than a bucketful of small packets, which the qdisc may release at once
            long second = (long) Math.ceil(rate.bytesPerSecond() / (double) frame);
            long bucket = (long) Math.ceil(burst.bytes() / (double) SMALL_PACKET);
            txq = Math.max(TXQ_MIN, Math.min(TXQ_MAX, Math.max(second, bucket)));
        }
        if (txq != null && (txq < 1 || txq > U32)) {
            throw new PlanException("txqueuelen", txq + " is out of range; accepted: 1 to 4294967295 packets (0 makes "
                    + "tun drop every packet)");
        }

        QdiscSpec spec;
        Size limitSize = Size.of(limit);
        List<String> explainClasses = explained ? new ArrayList<>() : null;
        String params = null;
        if (!htb) {
            if (r.ceil() != null) {
                throw new PlanException("ceil", "only htb has a ceiling; use --qdisc htb");
            }
            spec = new TbfSpec(rate, burst, limitSize, r.overhead(), r.mpu());
            params = !explained ? null : "tbf rate " + rate + " burst " + burst.bytes() + "b limit " + limit + "b";
        } else {
            Rate ceil = r.ceil() == null ? rate : r.ceil();
            if (ceil.compareTo(rate) < 0) {
                throw new PlanException("ceil", ceil + " is below the rate " + rate + "; the ceiling must be at least "
                        + "the rate");
            }
            Size cburst = burst;
            if (ceil.compareTo(rate) > 0 && r.burst() == null) {
                cburst = Size.of(Math.max(frame, (long) Math.ceil(ceil.bytesPerSecond() * (BURST_MICROS / 1e6))));
                cburst = Size.of(Math.min(cburst.bytes(),
                        (long) Math.floor(psched.maxMicros() * ceil.bytesPerSecond() / 1e6)));
            }
            int quantum = quantum(rate, frame);
            if (flows > 0 && r.classes().isEmpty()) {
                HtbClassSpec link = new HtbClassSpec(HTB_CLASS, 0, rate, ceil, burst, cburst, 0, quantum,
                        r.overhead(), r.mpu(), null, "link");
                FlowQueues fq = flowQueues(r, HTB_CLASS, 0, rate, frame, limit, mode, true);
                spec = new HtbSpec(fq.firstMinor(), HTB_R2Q, HTB_DIRECT_QLEN, List.of(link), List.of(), fq);
                params = !explained ? null : "htb, link class rate " + rate + " ceil " + ceil + " burst "
                        + burst.bytes() + "b with " + flows + " flow queues";
                if (explained) {
                    explainClasses.addAll(explainFlows(fq, rate, frame, senders, mode, r.classifierNote()));
                }
            } else if (r.classes().isEmpty()) {
                HtbClassSpec cls = new HtbClassSpec(HTB_CLASS, rate, ceil, burst, cburst, 0, quantum, r.overhead(),
                        r.mpu(), limitSize);
                spec = new HtbSpec(HTB_CLASS, HTB_R2Q, HTB_DIRECT_QLEN, List.of(cls));
                params = !explained ? null : "htb, one class rate " + rate + " ceil " + ceil + " burst " + burst.bytes() + "b cburst "
                        + cburst.bytes() + "b quantum " + quantum + "b, leaf bfifo limit " + limit + "b";
            } else {
                spec = classes(r, rate, ceil, burst, cburst, quantum, frame, limit, mode, explainClasses);
                params = !explained ? null : "htb, link class rate " + rate + " burst " + burst.bytes() + "b with "
                        + r.classes().size() + " priority classes";
            }
        }
        if (!explained) {
            return new Plan(spec, txq, List.of(), List.of());
        }
        if (r.overhead() != 0 || r.mpu() != 0) {
            params += ", overhead " + r.overhead() + "b mpu " + r.mpu() + "b per frame";
        }

        List<String> explain = new ArrayList<>();
        explain.add("kernel: " + params + (txq != null ? ", txqueuelen " + txq : ""));
        double wait = rate.microsFor(limit);
        explain.add("longest wait in the queue: " + Duration.format(wait) + " (" + limit + " bytes at " + rate + ")");
        explain.add("a full burst of " + burst.bytes() + " bytes passes at line speed; refilling it takes "
                + Duration.format(rate.microsFor(burst.bytes())) + " at the rate");
        if (limit >= senderBytes + frame || (r.limit() == null && r.latency() == null)) {
            explain.add("a local UDP sender with default socket buffers (" + wmemDefault + " bytes) blocks when the "
                    + "queue is full; nothing is dropped (backpressure, " + senders + " sender" + (senders > 1 ? "s" : "")
                    + ")");
        } else {
            explain.add("a local UDP sender with default socket buffers (" + wmemDefault + " bytes) is not slowed: "
                    + "past " + limit + " bytes the qdisc drops, silently (sendto succeeds unless IP_RECVERR is set); "
                    + "backpressure needs a limit of at least " + (senderBytes + burst.bytes()) + " bytes");
        }
        explain.add("forwarded traffic has no local socket to block: it gets the bounded wait, never backpressure");
        if (flows == 0) {
            explain.add("one queue for every flow: a flow that sends little waits behind whatever the others have queued "
                    + "(up to " + Duration.format(wait) + "); --flows N (a profile's flows) gives each flow its own queue");
        }
        if (mode == Mode.BACKPRESSURE && wait > 10e6) {
            warnings.add("backpressure costs delay on this link: a full queue waits " + Duration.format(wait)
                    + "; give applications a smaller SO_SNDBUF, or use --mode latency --latency TIME to bound it");
        }
        if (r.expectedMtu() != null && r.expectedMtu() != dev.mtu()) {
            warnings.add("the profile is for mtu " + r.expectedMtu() + "; " + dev.name() + " has mtu " + dev.mtu()
                    + " (frames larger than the backend's MTU may be split or dropped by the driver; "
                    + "ip link set " + dev.name() + " mtu " + r.expectedMtu() + ")");
        }
        long ring = txq != null ? txq : dev.txqueuelen();
        double ringTime = rate.microsFor(ring * (long) frame);
        long suggested = Math.max(TXQ_MIN, (long) Math.ceil(rate.bytesPerSecond() * 2.0 / frame));
        if (ringTime > 60e6 && ring > suggested) {
            warnings.add("txqueuelen " + ring + " lets tun's own ring hold " + Duration.format(ringTime) + " of full "
                    + "frames at " + rate + " when the reader stalls; consider a txqueuelen of " + suggested);
        }
        if (bucketNote != null) {
            explain.add(bucketNote);
        }
        explain.addAll(explainClasses);
        if (htb) {
            long q = rate.bytesPerSecond() / HTB_R2Q;
            if (q < frame) {
                explain.add("htb quantum set to one full frame (" + frame + " bytes) instead of rate/r2q (" + q + ")");
            }
        }
        return new Plan(spec, txq, explain, warnings);
    }

    private static int quantum(Rate rate, int frame) {
        return (int) Math.max(frame, Math.min(rate.bytesPerSecond() / HTB_R2Q, HTB_MAX_QUANTUM));
    }

    /** The most flow queues a device gets (leaf qdisc handles 7500:+minor must stay below 8000:). */
    public static final int MAX_FLOWS = 1024;
    /** Minor of the first flow queue. */
    public static final int FIRST_FLOW_MINOR = 0x100;
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
            leafLimit = rate.bytesPerSecond() * r.latency().micros() / 1_000_000 / n + frame;
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

    /** What one flow gets, in words. */
    private List<String> explainFlows(FlowQueues fq, Rate rate, int frame, int senders, Mode mode, String note) {
        int n = fq.count();
        long q = fq.leaf().quantum();
        List<String> out = new ArrayList<>();
        boolean u32 = fq.classifier() == FlowQueues.Classifier.U32;
        out.add("flows: " + n + " queues (classes " + Integer.toHexString(fq.firstMinor()) + "-"
                + Integer.toHexString(fq.firstMinor() + n - 1) + "), a flow's packets go to one of them by "
                + (u32 ? "the bits of its transport source port (u32 hash tables)"
                : "the kernel's hash of its addresses, protocol and ports (a cls_bpf program)")
                + "; busy queues are served in turn, " + q + " bytes at a time (deficit round robin)");
        if (u32) {
            U32FlowHash h = fq.u32();
            out.add("flow classifier: u32, the fallback where eBPF is refused" + (note == null ? "" : " (" + note + ")")
                    + "; weaker than eBPF's flow hash: only UDP and TCP are spread (IPv4, and IPv6 without "
                    + "extension headers), by source port bits 1-" + Integer.numberOfTrailingZeros(h.buckets())
                    + " alone: flows from one source port (a server's) share a queue, a sender that picks its "
                    + "port picks its queue, and ICMP, fragments and other traffic all go to the first queue"
                    + (h.buckets() != n ? "; " + h.buckets() + " buckets over " + n + " queues, so "
                    + (h.buckets() - n) + " queues take two buckets each" : ""));
        }
        Rate share = fq.leaf().rate();
        out.add("one flow gets an equal share of the rate among the busy ones (" + Rate.ofBytes(rate.bytesPerSecond() / 2)
                + " with 2 busy, " + share + " with all " + n + "), and the whole rate alone");
        out.add("a flow within its guaranteed share (" + share + ") is served first: it waits for the frame on the "
                + "wire, " + Duration.format(rate.microsFor(frame)) + ", and little else; past its share it takes its "
                + "turn with the other busy queues, " + q + " bytes each: at most about "
                + Duration.format(rate.microsFor(2 * q)) + " with 1 other busy queue, "
                + Duration.format(rate.microsFor(4 * q)) + " with 3, " + Duration.format(rate.microsFor(n * q))
                + " with all " + n);
        long limit = fq.leaf().limit().bytes();
        out.add("each queue holds " + limit + " bytes: a flow waits in its own queue at most "
                + Duration.format(rate.microsFor(limit)) + " alone, " + Duration.format(rate.microsFor(limit * n))
                + " with all " + n + " busy");
        if (mode == Mode.BACKPRESSURE) {
            out.add("every queue holds the send buffers of " + senders + " local sender" + (senders > 1 ? "s" : "")
                    + ", so up to " + senders + " block before a queue drops, however their flows hash (--senders)");
        }
        if (!u32) {
            out.add("two flows share a queue with probability 1/" + n + " (then they share its turn)");
        }
        return out;
    }

    /** First minor of the priority classes, under the link class {@link #HTB_CLASS}. */
    public static final int FIRST_CLASS_MINOR = 0x10;

    /**
     * htb with priority classes: a link class at the link rate, one leaf class per profile class
     * under it (ceil defaults to the link rate, so idle bandwidth is lent), each with a bfifo, and
     * u32 filters (IPv4 and IPv6) that send matching traffic to its class.
     */
    private HtbSpec classes(ShapingRequest r, Rate rate, Rate ceil, Size burst, Size cburst, int quantum, int frame,
                            long limit, Mode mode, List<String> explain) {
        List<HtbClassSpec> out = new ArrayList<>();
        List<U32Filter> filters = new ArrayList<>();
        out.add(new HtbClassSpec(HTB_CLASS, 0, rate, ceil, burst, cburst, 0, quantum, r.overhead(), r.mpu(), null,
                "link"));
        int dflt = 0;
        int prio = 1;
        for (int i = 0; i < r.classes().size(); i++) {
            Profile.ClassDef c = r.classes().get(i);
            int minor = FIRST_CLASS_MINOR + i;
            Rate cceil = c.ceil() != null ? c.ceil() : ceil;
            long maxBurst = (long) Math.floor(psched.maxMicros() * c.rate().bytesPerSecond() / 1e6);
            Size cb = Size.of(Math.min(Math.max(burst.bytes(), frame), Math.max(1, maxBurst)));
            long maxCburst = (long) Math.floor(psched.maxMicros() * cceil.bytesPerSecond() / 1e6);
            Size ccb = Size.of(Math.min(Math.max(cburst.bytes(), frame), Math.max(1, maxCburst)));
            long climit = limit;
            if (mode == Mode.LATENCY && r.latency() != null) {
                climit = c.rate().bytesPerSecond() * r.latency().micros() / 1_000_000 + cb.bytes();
            }
            int q = c.quantum() != null ? c.quantum() : quantum(c.rate(), frame);
            out.add(new HtbClassSpec(minor, HTB_CLASS, c.rate(), cceil, cb, ccb, c.prio(), q, r.overhead(), r.mpu(),
                    Size.of(climit), c.name()));
            if (c.isDefault()) {
                dflt = minor;
            }
            if (c.match() != null) {
                filters.add(new U32Filter(prio++, U32Filter.ETH_P_IP, keys(c.match(), false), minor));
                filters.add(new U32Filter(prio++, U32Filter.ETH_P_IPV6, keys(c.match(), true), minor));
            }
            if (explain != null) {
                explain.add("class " + c.name() + " (" + Integer.toHexString(minor) + "): rate " + c.rate() + " ceil "
                        + cceil + " prio " + c.prio() + ", queue " + climit + " bytes"
                        + (c.isDefault() ? ", takes unmatched traffic" : ", takes " + describe(c.match())));
            }
        }
        if (r.flows() == 0) {
            return new HtbSpec(dflt, HTB_R2Q, HTB_DIRECT_QLEN, out, filters);
        }
        // the default class's traffic is spread over flow queues under it; the priority classes stay
        // beside it, above the flows when their prio is lower
        for (int i = 0; i < out.size(); i++) {
            HtbClassSpec c = out.get(i);
            if (c.minor() == dflt) {
                out.set(i, new HtbClassSpec(c.minor(), c.parentMinor(), c.rate(), c.ceil(), c.burst(), c.cburst(),
                        c.prio(), c.quantum(), c.overhead(), c.mpu(), null, c.name()));
                // under a class of the profile's fixed rate: an adaptive change does not move it
                FlowQueues fq = flowQueues(r, dflt, c.prio(), c.rate(), frame, c.limit().bytes(), mode, false);
                if (explain != null) {
                    explain.add("unmatched traffic (class " + c.name() + ") is spread over flow queues:");
                    explain.addAll(explainFlows(fq, c.rate(), frame, r.senders() <= 0 ? 1 : r.senders(), mode,
                            r.classifierNote()));
                }
                return new HtbSpec(fq.firstMinor(), HTB_R2Q, HTB_DIRECT_QLEN, out, filters, fq);
            }
        }
        throw new IllegalStateException("no default class");
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

    private static String describe(Profile.Match m) {
        List<String> w = new ArrayList<>();
        if (m.dscp() != null) {
            w.add("DSCP " + m.dscp());
        }
        if (m.protocol() != null) {
            w.add("protocol " + m.protocol());
        }
        if (m.sport() != null) {
            w.add("source port " + m.sport());
        }
        if (m.dport() != null) {
            w.add("destination port " + m.dport());
        }
        return String.join(", ", w);
    }

    private static String text(ShapingRequest r) {
        return r.rateText() != null ? r.rateText() : r.rate().toString();
    }

    private static void checkRange(String field, long v, long min, long max, String what) {
        if (v < min || v > max) {
            throw new PlanException(field, v + " is out of range; accepted: " + min + " to " + max + " (" + what + ")");
        }
    }

    /** net.core.wmem_default, the send buffer a socket gets unless it asks otherwise. */
    public static long systemWmemDefault() {
        try {
            // one large read: sysctl files answer a read at a non-zero offset with EOF, and
            // Files.readString reads a zero-sized file one byte at a time (it would get "2")
            try (java.io.BufferedReader r = java.nio.file.Files.newBufferedReader(
                    java.nio.file.Path.of("/proc/sys/net/core/wmem_default"))) {
                return Long.parseLong(r.readLine().trim());
            }
        } catch (java.io.IOException | RuntimeException e) {
            return 212992;
        }
    }
}
