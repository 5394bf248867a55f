package io.tunshape.profile;

import io.tunshape.tc.Duration;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;

import java.util.List;

/** A backend link profile (SPEC section 5), validated. */
public record Profile(String name, String description, String source, String file, Link link, Shaping shaping,
                      Adaptive adaptive) {

    /** The backend: its payload rate and per-frame costs. */
    public record Link(Rate rate, String rateText, int overhead, int mpu, int mtu) {
    }

    /** How to shape: null values are derived by the planner ("auto"). */
    public record Shaping(String qdisc, Mode mode, Duration latency, int senders, Size burst, Size limit,
                          Long txqueuelen, List<ClassDef> classes, int flows) {
        public Shaping {
            classes = List.copyOf(classes);
        }
    }

    /** An htb priority class. {@code ceil} null = the link rate. */
    public record ClassDef(String name, Rate rate, Rate ceil, int prio, Integer quantum, Match match,
                           boolean isDefault) {
    }

    /** What traffic a class takes: a DSCP, or a protocol with optional ports. Null fields match anything. */
    public record Match(Integer dscp, Integer protocol, Integer sport, Integer dport) {
    }

    /** Bounds for the daemon's adaptive rate; headroom as a fraction (0.05 = 5 %). */
    public record Adaptive(Rate minRate, Rate maxRate, double headroom) {
    }

    /** The request the planner fits to a device. */
    public ShapingRequest request() {
        return new ShapingRequest(shaping.qdisc(), link.rate(), link.rateText(), null, shaping.burst(),
                shaping.limit(), shaping.latency(), shaping.mode(), shaping.senders(), link.overhead(), link.mpu(),
                shaping.txqueuelen(), shaping.classes(), shaping.txqueuelen() == null, link.mtu(), shaping.flows(),
                adaptive != null ? adaptive.minRate() : null);
    }
}
