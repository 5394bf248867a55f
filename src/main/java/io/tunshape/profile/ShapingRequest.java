package io.tunshape.profile;

import io.tunshape.tc.Duration;
import io.tunshape.tc.FlowQueues;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;

import java.util.List;

/**
 * What a user asked for, before it is fitted to a device: from command-line flags or a profile.
 * Null means "derive it" (for txqueuelen: leave the device's, unless {@code deriveTxqueuelen}).
 * {@code rateText} keeps the words the rate was given in, for messages; {@code expectedMtu} is the
 * MTU a profile was written for (null: none); {@code flows} the number of flow queues (0: one queue),
 * and {@code flowFloor} the lowest rate the link is shaped to (an adaptive profile's min_rate; null:
 * the rate), from which each flow queue's guaranteed share is taken, so a rate change moves no queue.
 * {@code classifier} is what spreads flows over the queues: null lets apply choose (eBPF, or u32 where
 * the kernel refuses eBPF), and {@code classifierNote} says why a fallback was taken (null: none).
 */
public record ShapingRequest(String qdisc, Rate rate, String rateText, Rate ceil, Size burst, Size limit,
                             Duration latency, Mode mode, int senders, int overhead, int mpu, Long txqueuelen,
                             List<Profile.ClassDef> classes, boolean deriveTxqueuelen, Integer expectedMtu,
                             int flows, Rate flowFloor, FlowQueues.Classifier classifier, String classifierNote) {
    /** The word for "no rate: the reader's pace is the clock", wherever a link rate is accepted. */
    public static final String READER = "reader";
    /**
     * The nominal rate a reader-paced plan gives tbf/htb: 32gbit, near the largest 32-bit rate and far
     * above what tun's reader takes, so the qdisc never throttles and only the stopped queue paces it.
     */
    public static final Rate READER_RATE = Rate.ofBytes(4_000_000_000L);

    public ShapingRequest {
        classes = classes == null ? List.of() : List.copyOf(classes);
    }

    /** True for shaping with no rate ({@code rate: reader}): the reader's pace is the clock. */
    public boolean readerPaced() {
        return READER.equals(rateText);
    }

    public ShapingRequest(String qdisc, Rate rate, String rateText, Rate ceil, Size burst, Size limit,
                          Duration latency, Mode mode, int senders, int overhead, int mpu, Long txqueuelen,
                          List<Profile.ClassDef> classes, boolean deriveTxqueuelen, Integer expectedMtu,
                          int flows, Rate flowFloor) {
        this(qdisc, rate, rateText, ceil, burst, limit, latency, mode, senders, overhead, mpu, txqueuelen, classes,
                deriveTxqueuelen, expectedMtu, flows, flowFloor, null, null);
    }

    /** Without flow queues. */
    public ShapingRequest(String qdisc, Rate rate, String rateText, Rate ceil, Size burst, Size limit,
                          Duration latency, Mode mode, int senders, int overhead, int mpu, Long txqueuelen,
                          List<Profile.ClassDef> classes, boolean deriveTxqueuelen, Integer expectedMtu) {
        this(qdisc, rate, rateText, ceil, burst, limit, latency, mode, senders, overhead, mpu, txqueuelen, classes,
                deriveTxqueuelen, expectedMtu, 0, null);
    }

    /** This request with {@code n} flow queues, their shares taken from {@code floor} (null: the rate). */
    public ShapingRequest withFlows(int n, Rate floor) {
        return new ShapingRequest(qdisc, rate, rateText, ceil, burst, limit, latency, mode, senders, overhead, mpu,
                txqueuelen, classes, deriveTxqueuelen, expectedMtu, n, floor, classifier, classifierNote);
    }

    /** This request with its flows spread by {@code c} (null: apply chooses), for the reason {@code note}. */
    public ShapingRequest withClassifier(FlowQueues.Classifier c, String note) {
        return new ShapingRequest(qdisc, rate, rateText, ceil, burst, limit, latency, mode, senders, overhead, mpu,
                txqueuelen, classes, deriveTxqueuelen, expectedMtu, flows, flowFloor, c, note);
    }

    /** A request without priority classes (the command line's). */
    public ShapingRequest(String qdisc, Rate rate, String rateText, Rate ceil, Size burst, Size limit,
                          Duration latency, Mode mode, int senders, int overhead, int mpu, Long txqueuelen) {
        this(qdisc, rate, rateText, ceil, burst, limit, latency, mode, senders, overhead, mpu, txqueuelen, List.of(),
                false, null);
    }

    /**
     * This request as htb at {@code rate}, ceil and rate text dropped, with {@code txqueuelen} (null:
     * derive it as this request says): how the daemon shapes an adaptive device.
     */
    public ShapingRequest asHtb(Rate rate, Long txqueuelen) {
        return new ShapingRequest("htb", rate, null, null, burst, limit, latency, mode, senders, overhead, mpu,
                txqueuelen, classes, deriveTxqueuelen, expectedMtu, flows, flowFloor, classifier, classifierNote);
    }
}
