package io.tunshape.daemon;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The per-device change-time histogram counts as Prometheus reads it: cumulative, with sum and count. */
class LatencyHistogramTest {
    @Test
    void bucketsAreCumulativeAndTheSumIsInSeconds() {
        LatencyHistogram h = new LatencyHistogram();
        h.record(80_000);        // 80 us: in le=0.0001
        h.record(300_000);       // 300 us: le=0.0005
        h.record(500_000);       // exactly 500 us: le=0.0005 (upper bounds are inclusive)
        h.record(2_000_000_000); // 2 s: only +Inf
        assertEquals(1, h.cumulative(0));
        assertEquals(1, h.cumulative(1));
        assertEquals(3, h.cumulative(2));
        assertEquals(3, h.cumulative(LatencyHistogram.BOUNDS.length - 1));
        assertEquals(4, h.cumulative(LatencyHistogram.BOUNDS.length));
        assertEquals(4, h.count());
        assertEquals(2.00088, h.sumSeconds(), 1e-9);
    }
}
