package io.tunshape.profile;

import io.tunshape.tc.Duration;
import io.tunshape.tc.Psched;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;
import io.tunshape.tc.TreeLayout;

import java.util.Locale;

/**
 * The sizes of one plan, computed once from the request and the device, with every refusal: the
 * qdisc, the bucket, the mode, the queue limit, the ring; and for htb the ceiling, its bucket and the
 * quantum. Both the spec and its explanation are read from here.
 */
record Sizing(boolean htb, int flows, Rate rate, int frame, Size burst, boolean bucketCapped, long maxBucket,
              Mode mode, int senders, long senderBytes, long limit, Long txqueuelen, Rate ceil, Size cburst,
              int quantum) {
    private static final long U32 = 0xFFFFFFFFL;

    static Sizing of(ShapingRequest r, Device dev, Psched psched, long wmemDefault) {
        int flows = r.flows();
        if (flows != 0 && (flows < 2 || flows > TreeLayout.MAX_FLOWS)) {
            throw new PlanException("flows", flows + " is out of range; accepted: 2 to " + TreeLayout.MAX_FLOWS
                    + " flow queues, or 0 for one queue shared by every flow");
        }
        boolean htb = htb(r, flows);
        Rate rate = rate(r);
        if (r.readerPaced()) {
            readerOnly(r);
        }
        checkRange("overhead", r.overhead(), 0, 65535, "bytes the backend adds to every frame");
        checkRange("mpu", r.mpu(), 0, 65535, "minimum packet unit in bytes");
        int frame = dev.maxFrame();
        Size burst = burst(r, dev, rate);
        long maxBucket = RateSizes.maxBucket(psched, rate.bytesPerSecond());
        // htb keeps its bucket in 32-bit ticks (tbf keeps bytes and recomputes in 64-bit ns)
        boolean capped = htb && !psched.fits(rate.bytesPerSecond(), burst.bytes());
        if (capped && r.burst() != null) {
            throw new PlanException("burst", burst.bytes() + " bytes takes " + Duration.format(rate.microsFor(
                    burst.bytes())) + " to send at " + rate + "; htb's bucket holds at most " + maxSeconds(psched)
                    + " of traffic (32-bit ticks of 64 ns). Use a burst of at most " + maxBucket + "b, or tbf");
        }
        if (capped) {
            burst = Size.of(maxBucket);
        }
        Mode mode = mode(r);
        int senders = r.senders() <= 0 ? 1 : r.senders();
        long senderBytes = (long) senders * wmemDefault;
        long limit = limit(r, rate, burst, senderBytes);
        Long txq = txqueuelen(r, rate, frame, burst);
        Rate ceil = null;
        Size cburst = null;
        if (htb) {
            ceil = r.ceil() == null ? rate : r.ceil();
            if (ceil.compareTo(rate) < 0) {
                throw new PlanException("ceil", ceil + " is below the rate " + rate + "; the ceiling must be at least "
                        + "the rate");
            }
            cburst = burst;
            if (ceil.compareTo(rate) > 0 && r.burst() == null) {
                cburst = Size.of(Math.min(RateSizes.burst(ceil.bytesPerSecond(), frame),
                        RateSizes.maxBucket(psched, ceil.bytesPerSecond())));
            }
        } else if (r.ceil() != null) {
            throw new PlanException("ceil", "only htb has a ceiling; use --qdisc htb");
        }
        return new Sizing(htb, flows, rate, frame, burst, capped, maxBucket, mode, senders, senderBytes, limit, txq,
                ceil, cburst, RateSizes.quantum(rate.bytesPerSecond(), frame));
    }

    static String maxSeconds(Psched psched) {
        return String.format(Locale.ROOT, "%.1f s", psched.maxMicros() / 1e6);
    }

    private static boolean htb(ShapingRequest r, int flows) {
        // flow queues are htb classes: flows alone imply htb
        String qdisc = r.qdisc() == null ? (flows > 0 ? "htb" : "tbf") : r.qdisc();
        if (!qdisc.equals("tbf") && !qdisc.equals("htb")) {
            throw new PlanException("qdisc", "'" + qdisc + "' is not supported; accepted: tbf, htb");
        }
        if (flows > 0 && !qdisc.equals("htb")) {
            throw new PlanException("flows", "flow queues are htb classes; use --qdisc htb (or leave --qdisc out)");
        }
        return qdisc.equals("htb");
    }

    /** A reader-paced plan's bucket: 64 KiB, the largest GSO packet, so none is split or dropped. */
    static final long READER_BURST = 65536;

    /** What needs a rate, refused with {@code reader}: a ceiling, a latency, priority classes. */
    private static void readerOnly(ShapingRequest r) {
        String why = "; with rate reader there is no rate (the reader's pace is the clock)";
        if (r.ceil() != null) {
            throw new PlanException("ceil", "a ceiling is above a rate" + why + ": leave the ceiling out");
        }
        if (r.latency() != null) {
            throw new PlanException("latency", "a latency becomes bytes at the rate" + why + ": give a limit in "
                    + "bytes, or neither (the queue holds the senders' buffers)");
        }
        if (!r.classes().isEmpty()) {
            throw new PlanException("classes", "priority classes divide the link's rate" + why + ": leave the "
                    + "classes out (flows: N still isolates flows), or give the link's rate");
        }
    }

    private static Rate rate(ShapingRequest r) {
        Rate rate = r.rate();
        if (rate == null) {
            throw new PlanException("rate", "missing; give the backend's payload rate, e.g. 9600bit or 1mbit");
        }
        if (rate.bytesPerSecond() == 0) {
            throw new PlanException("rate", "'" + (r.rateText() != null ? r.rateText() : rate.toString())
                    + "' is 0 bytes/s; the kernel counts whole bytes per second, so the smallest rate is 8bit (a rate "
                    + "of 0 would let tbf run unshaped at line speed)");
        }
        return rate;
    }

    private static Size burst(ShapingRequest r, Device dev, Rate rate) {
        int frame = dev.maxFrame();
        Size burst = r.burst();
        if (burst == null && r.readerPaced()) {
            // the bucket never empties at the nominal rate; it need only pass the largest packet whole
            burst = Size.of(Math.max(frame, READER_BURST));
        } else if (burst == null) {
            burst = Size.of(RateSizes.burst(rate.bytesPerSecond(), frame));
        } else if (burst.bytes() < frame) {
            throw new PlanException("burst", burst.bytes() + " bytes is below one full frame on " + dev.name() + " ("
                    + frame + " bytes: mtu " + dev.mtu() + " + " + dev.linkHeader() + " link header); the kernel would "
                    + "accept it and drop every larger packet. Use at least " + frame + "b, or leave the burst to tunshape");
        }
        if (burst.bytes() > U32) {
            throw new PlanException("burst", burst.bytes() + " bytes does not fit the kernel's 32-bit field");
        }
        return burst;
    }

    private static Mode mode(ShapingRequest r) {
        if (r.limit() != null && r.latency() != null) {
            throw new PlanException("limit", "give either a limit or a latency, not both");
        }
        Mode mode = r.mode();
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
        return mode;
    }

    private static long limit(ShapingRequest r, Rate rate, Size burst, long senderBytes) {
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
            long l = RateSizes.latencyLimit(rate.bytesPerSecond(), r.latency().micros(), burst.bytes());
            if (l > U32) {
                throw new PlanException("latency", r.latency() + " at " + rate + " is " + (l == Long.MAX_VALUE
                        ? "more than " : "") + l + " bytes of queue, more than the kernel's 32-bit limit holds; give a "
                        + "shorter latency");
            }
            limit = l;
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
        return limit;
    }

    private static Long txqueuelen(ShapingRequest r, Rate rate, int frame, Size burst) {
        Long txq = r.txqueuelen();
        if (txq == null && r.deriveTxqueuelen() && !r.readerPaced()) {
            // tun's ring sits after the qdisc: about a second of full frames at the rate, but never less
            // than a bucketful of small packets, which the qdisc may release at once
            long second = (long) Math.ceil(rate.bytesPerSecond() / (double) frame);
            long bucket = (long) Math.ceil(burst.bytes() / (double) Planner.SMALL_PACKET);
            txq = Math.max(Planner.TXQ_MIN, Math.min(Planner.TXQ_MAX, Math.max(second, bucket)));
        }
        if (txq != null && (txq < 1 || txq > U32)) {
            throw new PlanException("txqueuelen", txq + " is out of range; accepted: 1 to 4294967295 packets (0 makes "
                    + "tun drop every packet)");
        }
        return txq;
    }

    private static void checkRange(String field, long v, long min, long max, String what) {
        if (v < min || v > max) {
            throw new PlanException(field, v + " is out of range; accepted: " + min + " to " + max + " (" + what + ")");
        }
    }
}
