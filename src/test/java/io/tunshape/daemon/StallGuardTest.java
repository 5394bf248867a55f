package io.tunshape.daemon;

import org.junit.jupiter.api.Test;

import static io.tunshape.daemon.StallGuard.Action.NONE;
import static io.tunshape.daemon.StallGuard.Action.RESUME;
import static io.tunshape.daemon.StallGuard.Action.STALL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StallGuardTest {
    private static final long MS = 1_000_000L;

    @Test
    void aReaderThatTakesNothingWhilePacketsWaitIsStalledAfterStallAfter() {
        StallGuard g = new StallGuard(2000 * MS);
        assertEquals(NONE, g.observe(0, 5, 100));
        assertEquals(NONE, g.observe(1999 * MS, 5, 100));
        assertEquals(STALL, g.observe(2000 * MS, 5, 100));
        assertTrue(g.stalled());
        assertEquals(2000 * MS, g.stalledAt());
        assertEquals(NONE, g.observe(5000 * MS, 0, 100), "a stall is said once");
    }

    @Test
    void anEmptyQdiscIsNeverAStallHoweverLongTheReaderSleeps() {
        StallGuard g = new StallGuard(2000 * MS);
        for (long t = 0; t <= 60_000; t += 250) {
            assertEquals(NONE, g.observe(t * MS, 0, 7));
        }
        assertFalse(g.stalled());
        // the wait counts from the first sample that saw packets waiting, not from the last read
        assertEquals(NONE, g.observe(61_000 * MS, 3, 7));
        assertEquals(NONE, g.observe(62_999 * MS, 3, 7));
        assertEquals(STALL, g.observe(63_000 * MS, 3, 7));
    }

    @Test
    void everyReadRestartsTheWait() {
        StallGuard g = new StallGuard(2000 * MS);
        long read = 0;
        for (long t = 0; t <= 20_000; t += 1500) {
            assertEquals(NONE, g.observe(t * MS, 40, read++), "a slow reader is not a stalled one");
        }
    }

    @Test
    void theFirstReadAfterAStallResumes() {
        StallGuard g = new StallGuard(1000 * MS);
        g.observe(0, 1, 10);
        assertEquals(STALL, g.observe(1000 * MS, 1, 10));
        assertEquals(NONE, g.observe(1500 * MS, 0, 10));
        assertEquals(RESUME, g.observe(1750 * MS, 0, 11));
        assertFalse(g.stalled());
        assertEquals(NONE, g.observe(2500 * MS, 1, 11), "a new wait starts when packets wait again");
        assertEquals(NONE, g.observe(3499 * MS, 1, 11));
        assertEquals(STALL, g.observe(3500 * MS, 1, 11));
    }

    @Test
    void stallAfterMustBePositive() {
        assertThrows(IllegalArgumentException.class, () -> new StallGuard(0));
    }
}
