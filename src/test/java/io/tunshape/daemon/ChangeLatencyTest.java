package io.tunshape.daemon;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The change-latency record behind status and metrics. */
class ChangeLatencyTest {
    @Test
    void quantilesOfTheKeptSamples() {
        ChangeLatency l = new ChangeLatency();
        assertEquals(-1, l.snapshot().quantileMicros(0.5), "nothing yet");
        for (int i = 1; i <= 100; i++) {
            l.record(i * 1000L); // 1..100 us
        }
        assertEquals(100, l.snapshot().count());
        assertEquals(50, l.snapshot().quantileMicros(0.5));
        assertEquals(99, l.snapshot().quantileMicros(0.99));
        assertEquals(100, l.snapshot().quantileMicros(1));
        assertEquals(1, l.snapshot().quantileMicros(0));
    }

    @Test
    void onlyTheLastSamplesCount() {
        ChangeLatency l = new ChangeLatency();
        for (int i = 0; i < ChangeLatency.KEPT; i++) {
            l.record(5_000_000L); // 5 ms, then overwritten
        }
        for (int i = 0; i < ChangeLatency.KEPT; i++) {
            l.record(100_000L);
        }
        assertEquals(2L * ChangeLatency.KEPT, l.snapshot().count());
        assertEquals(100, l.snapshot().quantileMicros(1), "the old slow ones are gone");
        l.record(-5);
        assertEquals(0, l.snapshot().quantileMicros(0), "a clock step back counts as 0, not negative");
    }

    @Test
    void theSlowestKeptChangesComeWithTheirArrivalSlowestFirst() {
        ChangeLatency l = new ChangeLatency();
        assertEquals(List.of(), l.snapshot().slowest(3), "nothing yet");
        l.record(9_000_000L, 111); // slow, but overwritten below
        for (int i = 1; i < ChangeLatency.KEPT; i++) {
            l.record(i % 7 * 1000L, 1000L + i);
        }
        assertEquals(List.of(new ChangeLatency.Sample(111, 9000)), l.snapshot().slowest(1));
        l.record(50_000L, 5);
        l.record(40_000L, -1);
        l.record(50_000L, 7);
        // the 9 ms one is gone; of equal ones the later first; an unknown arrival stays unknown
        assertEquals(List.of(new ChangeLatency.Sample(7, 50), new ChangeLatency.Sample(5, 50),
                new ChangeLatency.Sample(-1, 40), new ChangeLatency.Sample(1000L + 4094, 6)), l.snapshot().slowest(4));
        assertEquals(ChangeLatency.KEPT, l.snapshot().slowest(ChangeLatency.KEPT + 10).size(), "at most the kept ones");
        ChangeLatency.Snapshot before = l.snapshot();
        l.record(90_000L, 9);
        assertEquals(50, before.quantileMicros(1), "a snapshot does not move with later changes");
        assertEquals(ChangeLatency.KEPT + 3L, before.count());
        assertEquals(90, l.snapshot().slowest(1).get(0).micros());
    }
}
