package io.tunshape.tc;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tick arithmetic. Golden values are iproute2 6.15's (ceil, clamp; commit d947f365), which tunshape
 * follows; 6.1's truncating, wrapping values are noted beside them (../shared/facts/netlink-tc.md §3, §9).
 */
class PschedTest {
    private final Psched p = new Psched(0x3e8, 0x40, 0xf4240); // /proc/net/psched here

    @Test
    void tickRateIsFifteenPointSixTwoFivePerMicrosecond() {
        assertEquals(15.625, p.ticksPerMicro());
    }

    @Test
    void exampleA_9600bitBurst1600() {
        assertEquals(20833334, p.xmitTicks(1200, 1600)); // tc 6.1: 20833328
    }

    @Test
    void exampleB_100mbitBurst64kb() {
        assertEquals(81920, p.xmitTicks(12_500_000, 65536)); // tc 6.1: 81906
    }

    @Test
    void exampleC_40gbitUsesTheClampedU32RateForTbf() {
        assertEquals(3815, p.xmitTicks(0xFFFFFFFFL, 1048576)); // tc 6.1: 3812
    }

    @Test
    void htbExample_100mbitCeil200mbit() {
        assertEquals(2000, p.xmitTicks(12_500_000, 1600));
        assertEquals(1000, p.xmitTicks(25_000_000, 1600));
    }

    @Test
    void fortyGigabitFrameDoesNotTruncateToZero() {
        // tc 6.1 gives 0 ticks for a 1605-byte htb burst at 40gbit; a bucket of 0 sends nothing in a burst
        assertEquals(6, p.xmitTicks(5_000_000_000L, 1605));
    }

    @Test
    void burstsBeyond275SecondsClampInsteadOfWrapping() {
        // 9600 bit/s: 329853 B still fits; 329854 B wrapped to 6657 in tc 6.1
        assertEquals(4294960938L, p.xmitTicks(1200, 329853));
        assertTrue(p.fits(1200, 329853));
        assertFalse(p.fits(1200, 329854));
        assertEquals(Psched.MAX_TICKS, p.xmitTicks(1200, 329854));
        assertEquals(Psched.MAX_TICKS, p.xmitTicks(1200, 1 << 20)); // tc 6.1: 768431440
    }

    @Test
    void rateTableMatchesTcCellLogAndMpu() {
        long[] t = p.rateTable(1200, 0, 0);
        assertEquals(104167, t[0]);         // 8 bytes: 6666.67 us -> 104166.67 ticks, rounded up
        assertEquals(26666667, t[255]);     // 2048 bytes
        assertEquals(3, Psched.cellLog(0)); // 2047 -> cell_log 3
        assertEquals(3, Psched.cellLog(1600));
        assertEquals(6, Psched.cellLog(9000));
        long[] withMpu = p.rateTable(1200, 0, 64);
        assertEquals(p.xmitTicks(1200, 64), withMpu[0]);
        assertEquals(p.xmitTicks(1200, 64), withMpu[7]);
        assertEquals(p.xmitTicks(1200, 72), withMpu[8]);
    }

    @Test
    void xmitSizeInvertsTicks() {
        assertEquals(1600, p.xmitSize(12_500_000, 2000));
        assertArrayEquals(new long[] {1599}, new long[] {p.xmitSize(1200, 20833328)});
    }
}
