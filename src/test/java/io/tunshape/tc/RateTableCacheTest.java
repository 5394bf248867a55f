package io.tunshape.tc;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The codec's rate tables stay few however many rates a long-running daemon passes through. */
class RateTableCacheTest {
    private static HtbClassSpec cls(long rateBytes) {
        Rate r = Rate.ofBytes(rateBytes);
        return new HtbClassSpec(1, r, r, Size.of(1600), Size.of(1600), 0, 1500, 0, 0, null);
    }

    @Test
    void aThousandAdaptiveRatesKeepAtMostTheBoundOfTables() {
        TcCodec codec = new TcCodec(Psched.DEFAULT);
        for (int i = 0; i < 1000; i++) {
            codec.htbClass(TcClient.CHANGE, 2, Handle.of(0x7474, 1), Handle.of(0x7474, 0), cls(10_000 + i));
        }
        assertEquals(TcCodec.TABLES_KEPT, codec.tablesKept());
    }

    @Test
    void aTableComputedAgainAfterEvictionIsTheSameBytes() {
        TcCodec codec = new TcCodec(Psched.DEFAULT);
        byte[] first = codec.htbClass(TcClient.ADD, 2, Handle.of(0x7474, 1), Handle.of(0x7474, 0), cls(1200)).toBytes(1);
        for (int i = 0; i < 2 * TcCodec.TABLES_KEPT; i++) {
            codec.htbClass(TcClient.ADD, 2, Handle.of(0x7474, 1), Handle.of(0x7474, 0), cls(50_000 + i));
        }
        byte[] again = codec.htbClass(TcClient.ADD, 2, Handle.of(0x7474, 1), Handle.of(0x7474, 0), cls(1200)).toBytes(1);
        assertArrayEquals(first, again);
        // a fresh codec, which has never evicted, agrees
        byte[] fresh = new TcCodec(Psched.DEFAULT).htbClass(TcClient.ADD, 2, Handle.of(0x7474, 1),
                Handle.of(0x7474, 0), cls(1200)).toBytes(1);
        assertEquals(Arrays.toString(fresh), Arrays.toString(again));
    }

    @Test
    void theTablesUsedMostRecentlyStay() {
        TcCodec codec = new TcCodec(Psched.DEFAULT);
        // rate and ceil alike: one table per rate
        for (int i = 0; i < TcCodec.TABLES_KEPT + 10; i++) {
            codec.htbClass(TcClient.ADD, 2, Handle.of(0x7474, 1), Handle.of(0x7474, 0), cls(1200));
            codec.htbClass(TcClient.ADD, 2, Handle.of(0x7474, 1), Handle.of(0x7474, 0), cls(90_000 + i));
        }
        assertEquals(TcCodec.TABLES_KEPT, codec.tablesKept());
    }
}
