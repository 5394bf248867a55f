package io.tunshape.profile;

import io.tunshape.tc.Duration;
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
 */
public record ShapingRequest(String qdisc, Rate rate, String rateText, Rate ceil, Size burst, Size limit,
                             Duration latency, Mode mode, int senders, int overhead, int mpu, Long txqueuelen,
                             List<Profile.ClassDef> classes, boolean deriveTxqueuelen, Integer expectedMtu,
                             int flows, Rate flowFloor) {
    public ShapingRequest {
        classes = classes == null ? List.of() : List.copyOf(classes);
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
                txqueuelen, classes, deriveTxqueuelen, expectedMtu, n, floor);
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
                txqueuelen, classes, deriveTxqueuelen, expectedMtu, flows, flowFloor);
    }
}
