package io.tunshape.daemon;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The control law with an injected clock (milliseconds). */
class RateControllerTest {
    private static final RateController.Tuning T = new RateController.Tuning(0.5, 0.05, 1000, 5000, 50, 1000, 0);

    private static RateController c() {
        // profile 9600 bit/s, bounds 2400..19200, headroom 5 %
        return new RateController(9600, 2400, 19200, 0.05, T);
    }

    @Test
    void firstReportSetsTheRateLessHeadroom() {
        RateController c = c();
        c.report(12000, 0);
        assertEquals(11400, c.tick(0));
        assertEquals(11400, c.currentBps());
    }

    @Test
    void framesWaitingInTunsRingLowerTheRateUntilTheyDrain() {
        RateController c = c();
        // 12000 bit/s measured, and 4 frames of 100 bytes (3200 bits) in the ring: drained in 1 s
        c.report(12000, RateController.queuedBitsOf(4, 1000, 10), 0);
        assertEquals(11400 - 3200, c.tick(0));
        // the ring is empty again: back to the estimate less headroom (the estimate is still 12000)
        c.report(12000, 0, 2000);
        assertEquals(11400, c.tick(2000));
        // a ring that would take more than the whole rate: min_rate, so what is queued still drains
        c.report(12000, RateController.queuedBitsOf(100, 150_000, 100), 4000);
        assertEquals(2400, c.tick(4000));
    }

    @Test
    void aStandingRingKeepsTheBackendFed() {
        // ring_target 500 ms: at an estimate of 12000 bit/s that is 6000 bits kept in tun's ring
        RateController c = new RateController(9600, 2400, 19200, 0.05,
                new RateController.Tuning(0.5, 0.05, 1000, 5000, 50, 1000, 500));
        c.report(12000, 0, 0);
        assertEquals(11400 + 6000, c.tick(0), "an empty ring: above the estimate, to fill it");
        c.report(12000, 6000, 2000);
        assertEquals(11400, c.tick(2000), "at the target: the estimate less headroom");
        c.report(12000, 12000, 4000);
        assertEquals(11400 - 6000, c.tick(4000), "above it: below the estimate, to drain it");
        c.report(12000, -1, 6000);
        assertEquals(11400, c.tick(6000), "a report without a ring never pushes past the estimate");
    }

    @Test
    void aFallDeeperThanTheQueueCanDrainInTwiceTheLatencyEmptiesIt() {
        // latency 500 ms, min_interval 100 ms, full weight on each sample
        RateController c = new RateController(9600, 100, 40000, 0.0,
                new RateController.Tuning(1.0, 0.05, 100, 60_000, 50, 1000, 0), 500);
        c.report(19000, 0);
        assertEquals(19000, c.tick(0), "a rise");
        assertFalse(c.takeFlush(), "a rise keeps the queue");
        c.report(10000, 100);
        assertEquals(10000, c.tick(100), "a fall to more than half");
        assertFalse(c.takeFlush(), "what is queued leaves within 2 x 500 ms at half 19000 or more");
        c.report(9000, 600);
        assertEquals(9000, c.tick(600), "below half of 19000, which was in effect 500 ms ago");
        assertTrue(c.takeFlush(), "queued at 19000, it would wait past 1 s: emptied");
        assertFalse(c.takeFlush(), "asked once");
        c.report(5000, 700);
        assertEquals(5000, c.tick(700), "after emptying, the floor starts from the rate it fell to");
        assertFalse(c.takeFlush(), "5000 is not below half of 9000");
        c.report(4000, 1800);
        assertEquals(4000, c.tick(1800));
        assertFalse(c.takeFlush(), "9000 ended 1.1 s ago, past 2 L: half of 5000 is the floor");
        c.report(0, 1900);
        assertEquals(100, c.tick(1900), "an outage: min_rate");
        assertTrue(c.takeFlush(), "and the queue goes");
        assertEquals(0, new RateController(9600, 100, 20000, 0.0, T).floorBps(0), "no latency, no floor");
    }

    @Test
    void theFloorIsNeverLowerThanExactWhenChangesOutnumberTheHistory() {
        // more changes within 2 L than the history keeps: merged entries keep the highest rate
        RateController c = new RateController(9600, 100, 100_000, 0.0,
                new RateController.Tuning(1.0, 0.0, 0, 60_000, 50, 1000, 0), 10_000);
        c.report(100_000, 0);
        c.tick(0);
        for (int i = 1; i <= 40; i++) {
            c.report(100_000 - i * 1000, i);
            c.tick(i);
            assertFalse(c.takeFlush(), "step " + i + " is within the floor");
        }
        assertEquals(60_000, c.currentBps());
        assertEquals(50_000, c.floorBps(41), "100000, set at 0, still counts");
        c.report(49_000, 42);
        assertEquals(49_000, c.tick(42));
        assertTrue(c.takeFlush());
    }

    @Test
    void aStarvedBackendWithPacketsHeldInTheQdiscDoublesTheRate() {
        RateController c = new RateController(9600, 2400, 40000, 0.05, T);
        // the link carried 4000 bit/s while busy, idle a third of the time, packets in the qdisc
        assertTrue(RateController.starved(12, 650, 1000));
        c.report(4000, 0, true, 0);
        assertEquals(19200, c.tick(0), "the shaper, not the link, held traffic back: at least twice 9600");
        c.report(30000, 0, true, 1000);
        assertEquals(38400, c.tick(1000), "one doubling a report");
        assertEquals(-1, c.tick(2000), "kept until the next report, and not doubled again without one");
        c.report(30000, 0, true, 3000);
        assertEquals(-1, c.tick(3000), "twice is past max_rate: 40000, within the hysteresis of 38400");
        RateController d = new RateController(9600, 2400, 40000, 0.05, T);
        d.report(0, 0, false, 0);
        assertEquals(2400, d.tick(0), "an outage");
        d.report(25000, 0, true, 1000);
        assertEquals(25000, d.tick(1000), "starved: at least what the link carried while busy, more than twice");
        c.report(20000, 0, false, 5000);
        assertEquals(Math.round((0.5 * 20000 + 0.5 * (0.5 * 30000 + 0.5 * 17000)) * 0.95), c.tick(5000),
                "not starved: the estimate rules again");
    }

    @Test
    void starvationNeedsWaitingPacketsAndAnIdleBackend() {
        assertFalse(RateController.starved(0, 100, 1000), "nothing held back in the qdisc: no demand");
        assertFalse(RateController.starved(12, 950, 1000), "busy all along: the link was not starved");
        assertFalse(RateController.starved(12, 900, 1000), "idle a tenth of the time is not yet starved");
        assertFalse(RateController.starved(-1, 100, 1000), "a qdisc not told");
        assertTrue(RateController.starved(1, 0, 1000));
        assertTrue(RateController.starved(12, 899, 1000));
    }

    @Test
    void aRingTheReportDoesNotTellIsNoRing() {
        assertEquals(-1, RateController.queuedBitsOf(-1, 1000, 10));
        assertEquals(0, RateController.queuedBitsOf(0, 1000, 10));
        assertEquals(1500 * 8 * 3, RateController.queuedBitsOf(3, 0, 0), "no frames this interval: full-size frames");
        RateController c = c();
        c.report(12000, -1, 0);
        assertEquals(11400, c.tick(0));
    }

    @Test
    void samplesAreSmoothed() {
        RateController c = c();
        c.report(10000, 0);
        c.tick(0);
        c.report(20000, 2000); // EWMA 0.5: 15000
        assertEquals(15000, c.estimateBps());
        assertEquals(14250, c.tick(2000));
    }

    @Test
    void smallChangesStayWithinHysteresis() {
        RateController c = c();
        c.report(10000, 0); // target 9500: 1 % from the profile's 9600
        assertEquals(-1, c.tick(0));
        c.report(12000, 2000); // estimate 11000 -> target 10450: 9 % away
        assertEquals(10450, c.tick(2000));
        c.report(11400, 4000); // estimate 11200 -> target 10640: 1.8 % away
        assertEquals(-1, c.tick(4000));
        assertEquals(10450, c.currentBps());
    }

    @Test
    void changesWaitForTheMinimumInterval() {
        RateController c = c();
        c.report(12000, 0);
        assertEquals(11400, c.tick(0));
        c.report(18000, 300);
        c.report(18000, 600); // estimate 12000 -> 15000 -> 16500
        assertEquals(-1, c.tick(600), "too soon after the last change");
        assertEquals(15675, c.tick(1000));
    }

    @Test
    void ratesAreClampedToTheBounds() {
        RateController c = c();
        c.report(1_000_000, 0);
        assertEquals(19200, c.tick(0));
        RateController d = c();
        d.report(100, 0);
        assertEquals(2400, d.tick(0), "never below min_rate, so queued packets drain");
    }

    @Test
    void staleReportsFallBackToTheProfileRate() {
        RateController c = c();
        c.report(15000, 0);
        assertEquals(14250, c.tick(0));
        assertEquals(-1, c.tick(4000));
        assertEquals(9600, c.tick(5001), "no report for more than 5 s");
        assertEquals(5001, c.reportAgeMs(5001));
    }

    @Test
    void busyTimeGivesTheCapacityWhenTheDriverDoesNotKnowIt() {
        RateController c = c();
        assertEquals(9600, c.capacityOf(-1, 1200, 1000));
        assertEquals(-1, c.capacityOf(-1, 1200, 10), "not busy long enough to tell");
        assertEquals(4800, c.capacityOf(4800, 1200, 1000), "the driver's own figure wins");
        assertEquals(0, c.capacityOf(-1, 0, 1000), "busy and nothing delivered: an outage");
        assertEquals(0, c.capacityOf(0, 0, 1000), "a driver (or the pump) saying its link carries nothing now");
        assertEquals(0, c.capacityOf(0, 1200, 10), "a given 0 counts even when the backend was hardly busy");
    }

    @Test
    void anOutageDrivesTheRateToTheMinimum() {
        RateController c = c();
        c.report(12000, 0);
        assertEquals(11400, c.tick(0));
        c.report(0, 1000); // estimate 6000
        assertEquals(5700, c.tick(1000));
        c.report(0, 2000); // 3000 -> 2850
        c.report(0, 2500); // 1500 -> clamped to 2400
        assertEquals(2400, c.tick(2500));
    }

    @Test
    void withoutReportsNothingChanges() {
        RateController c = c();
        assertEquals(-1, c.tick(0));
        assertEquals(-1, c.tick(60_000));
        assertEquals(9600, c.currentBps());
        assertEquals(0, c.changes());
    }
}
