package io.tunshape.profile;

import io.tunshape.tc.Duration;
import io.tunshape.tc.FlowQueues;
import io.tunshape.tc.HtbClassSpec;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.Psched;
import io.tunshape.tc.QdiscSpec;
import io.tunshape.tc.Rate;
import io.tunshape.tc.U32FlowHash;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

/**
 * A plan in plain words, and its warnings: read from the request, the device, the plan's sizes and
 * the spec made of them. Nothing here decides anything the kernel gets.
 */
final class Explanation {
    final List<String> lines = new ArrayList<>();
    final List<String> warnings = new ArrayList<>();
    private final ShapingRequest r;
    private final Sizing s;
    private final long wmemDefault;

    private Explanation(ShapingRequest r, Sizing s, long wmemDefault) {
        this.r = r;
        this.s = s;
        this.wmemDefault = wmemDefault;
    }

    /** {@code sized}: the classes with their queue limits (the link class first, then the profile's in order). */
    static Explanation of(ShapingRequest r, Device dev, Sizing s, QdiscSpec spec, List<HtbClassSpec> sized,
                          Psched psched, long wmemDefault) {
        Explanation e = new Explanation(r, s, wmemDefault);
        e.rateWarning();
        if (r.readerPaced()) {
            e.lines.add("rate: reader (paced by the reader; " + (s.htb() ? "htb" : "tbf") + " at " + s.rate()
                    + " as a formality: it never throttles, the stopped queue is the clock)");
        }
        e.lines.add("kernel: " + e.params(spec) + (s.txqueuelen() != null ? ", txqueuelen " + s.txqueuelen() : ""));
        if (r.readerPaced()) {
            e.readerQueue(dev);
        } else {
            e.queue(dev);
        }
        e.flowControl(dev);
        if (s.bucketCapped()) {
            e.lines.add("htb's bucket holds at most " + Sizing.maxSeconds(psched) + " of traffic (" + s.maxBucket()
                    + " bytes at " + s.rate() + "), less than one frame: frames still pass at the rate, each sent on "
                    + "credit");
        }
        if (spec instanceof HtbSpec h) {
            e.classes(h, sized);
            long q = s.rate().bytesPerSecond() / Planner.HTB_R2Q;
            if (q < s.frame()) {
                e.lines.add("htb quantum set to one full frame (" + s.frame() + " bytes) instead of rate/r2q (" + q + ")");
            }
        }
        return e;
    }

    private void rateWarning() {
        if (r.rateText() == null) {
            return;
        }
        try {
            BigDecimal bits = io.tunshape.tc.Units.parseRateBits(r.rateText());
            if (bits.compareTo(BigDecimal.valueOf(s.rate().bitsPerSecond())) != 0) {
                warnings.add("rate " + r.rateText() + " is not a whole number of bytes per second; the kernel holds "
                        + s.rate() + " (" + s.rate().bytesPerSecond() + " bytes/s)");
            }
        } catch (IllegalArgumentException ignored) {
            // already parsed once; the text is informative only
        }
    }

    private String params(QdiscSpec spec) {
        Rate rate = s.rate();
        String params;
        if (!s.htb()) {
            params = "tbf rate " + rate + " burst " + s.burst().bytes() + "b limit " + s.limit() + "b";
        } else if (s.flows() > 0 && r.classes().isEmpty()) {
            params = "htb, link class rate " + rate + " ceil " + s.ceil() + " burst " + s.burst().bytes() + "b with "
                    + s.flows() + " flow queues";
        } else if (r.classes().isEmpty()) {
            params = "htb, one class rate " + rate + " ceil " + s.ceil() + " burst " + s.burst().bytes() + "b cburst "
                    + s.cburst().bytes() + "b quantum " + s.quantum() + "b, leaf bfifo limit " + s.limit() + "b";
        } else {
            params = "htb, link class rate " + rate + " burst " + s.burst().bytes() + "b with " + r.classes().size()
                    + " priority classes";
        }
        if (r.overhead() != 0 || r.mpu() != 0) {
            params += ", overhead " + r.overhead() + "b mpu " + r.mpu() + "b per frame";
        }
        return params;
    }

    /** The queue: its wait, the bucket, what senders see; with the warnings about delay, MTU and ring. */
    private void queue(Device dev) {
        Rate rate = s.rate();
        long limit = s.limit();
        int senders = s.senders();
        double wait = rate.microsFor(limit);
        lines.add("longest wait in the queue: " + Duration.format(wait) + " (" + limit + " bytes at " + rate + ")");
        lines.add("a full burst of " + s.burst().bytes() + " bytes passes at line speed; refilling it takes "
                + Duration.format(rate.microsFor(s.burst().bytes())) + " at the rate");
        if (limit >= s.senderBytes() + s.frame() || (r.limit() == null && r.latency() == null)) {
            lines.add("a local UDP sender with default socket buffers (" + wmemDefault + " bytes) blocks when the "
                    + "queue is full; nothing is dropped (backpressure, " + senders + " sender" + (senders > 1 ? "s" : "")
                    + ")");
        } else {
            lines.add("a local UDP sender with default socket buffers (" + wmemDefault + " bytes) is not slowed: "
                    + "past " + limit + " bytes the qdisc drops, silently (sendto succeeds unless IP_RECVERR is set); "
                    + "backpressure needs a limit of at least " + (s.senderBytes() + s.burst().bytes()) + " bytes");
        }
        lines.add("forwarded traffic has no local socket to block: it gets the bounded wait, never backpressure");
        if (s.flows() == 0) {
            lines.add("one queue for every flow: a flow that sends little waits behind whatever the others have queued "
                    + "(up to " + Duration.format(wait) + "); --flows N (a profile's flows) gives each flow its own queue");
        }
        if (s.mode() == Mode.BACKPRESSURE && wait > 10e6) {
            warnings.add("backpressure costs delay on this link: a full queue waits " + Duration.format(wait)
                    + "; give applications a smaller SO_SNDBUF, or use --mode latency --latency TIME to bound it");
        }
        if (r.expectedMtu() != null && r.expectedMtu() != dev.mtu()) {
            warnings.add("the profile is for mtu " + r.expectedMtu() + "; " + dev.name() + " has mtu " + dev.mtu()
                    + " (frames larger than the backend's MTU may be split or dropped by the driver; "
                    + "ip link set " + dev.name() + " mtu " + r.expectedMtu() + ")");
        }
        long ring = s.txqueuelen() != null ? s.txqueuelen() : dev.txqueuelen();
        double ringTime = rate.microsFor(ring * (long) s.frame());
        long suggested = Math.max(Planner.TXQ_MIN, (long) Math.ceil(rate.bytesPerSecond() * 2.0 / s.frame()));
        if (ringTime > 60e6 && ring > suggested) {
            warnings.add("txqueuelen " + ring + " lets tun's own ring hold " + Duration.format(ringTime) + " of full "
                    + "frames at " + rate + " when the reader stalls; consider a txqueuelen of " + suggested);
        }
    }

    /** The queue of a reader-paced plan: its size, and who waits how long (as long as the reader takes). */
    private void readerQueue(Device dev) {
        lines.add("the queue holds " + s.limit() + " bytes" + (r.limit() == null ? " (the send buffers of "
                + s.senders() + " local sender" + (s.senders() > 1 ? "s" : "") + ", " + wmemDefault + " bytes each, "
                + "plus " + s.burst().bytes() + ")" : "") + "; they wait as long as the reader takes to read them");
        lines.add("tun's ring (txqueuelen " + (s.txqueuelen() != null ? s.txqueuelen() : dev.txqueuelen()) + ") fills "
                + "first: when it is full the kernel stops the device's queue and the qdisc holds what comes; when "
                + "the reader has read half the ring the queue runs again");
        lines.add("forwarded traffic has no local socket to block: past the queue's limit it is dropped in the qdisc "
                + "(counted)");
        String refusal = Planner.readerRefusal(r, dev);
        if (refusal != null) {
            warnings.add(refusal);
        }
    }

    /** What the kernel's flow control changes, on a device that has it (nothing is said on one without). */
    private void flowControl(Device dev) {
        if (!dev.flowControl()) {
            return;
        }
        lines.add("kernel flow control (" + dev.flagsText() + ", IFF_BACKPRESSURE): nothing is lost at tun, even "
                + (r.readerPaced() ? "with no rate" : "with a rate above the link") + ": a full ring stops the "
                + "device's queue instead of dropping");
        boolean blocks = s.limit() >= s.senderBytes() + s.frame() || (r.limit() == null && r.latency() == null);
        lines.add("the qdisc holds what the link cannot take (up to " + s.limit() + " bytes), then "
                + (blocks ? "local senders block" : "it drops (counted): the limit is below the senders' buffers"));
        lines.add("a reader that stops reading blocks them until it reads again: tunshape's daemon frees them "
                + "(stall guard); without it, watch the qdisc's backlog against the device's tx_packets");
    }

    /** The profile's classes, and the flow queues with where they sit. */
    private void classes(HtbSpec h, List<HtbClassSpec> sized) {
        if (r.classes().isEmpty()) {
            if (h.flows() != null) {
                lines.addAll(flows(h.flows(), s.rate()));
            }
            return;
        }
        for (int i = 0; i < r.classes().size(); i++) {
            Profile.ClassDef c = r.classes().get(i);
            HtbClassSpec k = sized.get(i + 1);
            lines.add("class " + c.name() + " (" + Integer.toHexString(k.minor()) + "): rate " + c.rate() + " ceil "
                    + k.ceil() + " prio " + c.prio() + ", queue " + k.limit().bytes() + " bytes"
                    + (c.isDefault() ? ", takes unmatched traffic" : ", takes " + describe(c.match())));
        }
        if (h.flows() != null) {
            HtbClassSpec parent = sized.stream().filter(c -> c.minor() == h.flows().parentMinor()).findFirst()
                    .orElseThrow();
            lines.add("unmatched traffic (class " + parent.name() + ") is spread over flow queues:");
            lines.addAll(flows(h.flows(), parent.rate()));
        }
    }

    /** What one flow gets, in words. */
    private List<String> flows(FlowQueues fq, Rate rate) {
        int frame = s.frame();
        int senders = s.senders();
        Mode mode = s.mode();
        String note = r.classifierNote();
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
        if (r.readerPaced()) {
            out.add("no rate to share: each time the reader frees room in tun's ring, the busy queues take turns, "
                    + q + " bytes each, so a flow that sends little waits about one turn of each busy queue, "
                    + "plus what tun's ring holds ahead of it (a smaller txqueuelen moves that wait into the queues)");
            out.add("each queue holds " + fq.leaf().limit().bytes() + " bytes");
            if (!u32) {
                out.add("two flows share a queue with probability 1/" + n + " (then they share its turn)");
            }
            return out;
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
}
