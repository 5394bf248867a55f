package io.tunshape.daemon;

import io.tunshape.profile.Device;
import io.tunshape.profile.Planner;
import io.tunshape.profile.Profile;
import io.tunshape.profile.ShapingRequest;
import io.tunshape.tc.Duration;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.Psched;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A compiled rate change makes, at any rate between min_rate and max_rate, the classes and leaf
 * limits the planner makes for that rate; what its functions do not cover is left to the planner.
 */
class CompiledRateTest {
    private static final Planner PLANNER = new Planner(Psched.DEFAULT, 212_992);
    private static final Device TAP = new Device("tap0", 1500, 14, 1000);
    private static final long[] RATES = {9_600, 100_000, 123_457, 1_000_000, 5_555_555, 10_000_000, 400_000_000};

    private static ShapingRequest request(Size limit, Duration latency, Rate ceil, Size burst) {
        return new ShapingRequest("htb", Rate.ofBits(1_000_000), null, ceil, burst, limit, latency, null, 1, 0, 0,
                null).asHtb(Rate.ofBits(1_000_000), 500L);
    }

    private static HtbSpec plan(ShapingRequest r, long bps) {
        return (HtbSpec) PLANNER.plan(r.asHtb(Rate.ofBits(bps), r.txqueuelen()), TAP, false).qdisc();
    }

    private static CompiledRate compile(ShapingRequest r) {
        return CompiledRate.compile(3, r, plan(r, r.rate().bitsPerSecond()), TAP.maxFrame(), Psched.DEFAULT,
                bps -> plan(r, bps), RATES[0], RATES[RATES.length - 1]);
    }

    private static void assertAsPlanned(ShapingRequest r) {
        CompiledRate c = compile(r);
        assertTrue(c.compiled(), r.toString());
        for (long bps : RATES) {
            HtbSpec want = plan(r, bps);
            HtbSpec got = c.specAt(bps, true);
            assertEquals(want.classes(), got.classes(), "at " + bps + " bit/s");
            if (want.flows() != null) {
                assertEquals(want.flows().leaf().limit(), got.flows().leaf().limit(), "flow queues at " + bps);
            }
        }
    }

    @Test
    void latencyModeFollowsThePlannerAtEveryRate() {
        assertAsPlanned(request(null, Duration.ofMicros(200_000), null, null));
    }

    @Test
    void backpressureModeFollowsThePlannerAtEveryRate() {
        assertAsPlanned(request(null, null, null, null));
    }

    @Test
    void aFixedLimitAndAFixedBurstFollowThePlanner() {
        assertAsPlanned(request(Size.of(50_000), null, null, Size.of(3000)));
    }

    @Test
    void flowQueuesLeafLimitsFollowThePlannerWhenEmptied() {
        assertAsPlanned(request(null, Duration.ofMicros(200_000), null, null).withFlows(8, Rate.ofBits(9_600)));
        assertAsPlanned(request(null, null, null, null).withFlows(8, Rate.ofBits(9_600)));
    }

    @Test
    void priorityClassesAreLeftToThePlanner() {
        ShapingRequest r = new ShapingRequest("htb", Rate.ofBits(1_000_000), null, null, null, null,
                Duration.ofMicros(200_000), null, 1, 0, 0, null, java.util.List.of(
                new Profile.ClassDef("voice", Rate.ofBits(64_000), null, 0, null, new Profile.Match(46, null, null, null),
                        false),
                new Profile.ClassDef("rest", Rate.ofBits(100_000), null, 1, null, null, true)), false, null)
                .asHtb(Rate.ofBits(1_000_000), 500L);
        CompiledRate c = compile(r);
        assertFalse(c.compiled());
        assertEquals(plan(r, 2_000_000), c.specAt(2_000_000, false), "planned at each change, as before");
    }
}
