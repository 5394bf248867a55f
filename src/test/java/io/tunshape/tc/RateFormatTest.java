package io.tunshape.tc;

import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Rate.format in long arithmetic (issue 24): the same text as with BigDecimal, as it was written before. */
class RateFormatTest {
    private static String withBigDecimal(long bits) {
        String[] units = {"tbit", "gbit", "mbit", "kbit"};
        long[] div = {1_000_000_000_000L, 1_000_000_000L, 1_000_000L, 1000L};
        for (int i = 0; i < units.length; i++) {
            if (bits >= div[i] && bits % (div[i] / 1000) == 0) {
                return BigDecimal.valueOf(bits).divide(BigDecimal.valueOf(div[i])).stripTrailingZeros().toPlainString()
                        + units[i];
            }
        }
        return bits + "bit";
    }

    @Test
    void sameTextAsBigDecimal() {
        long[] edges = {0, 1, 999, 1000, 1001, 1010, 1100, 9600, 10_000, 100_000, 1_000_000, 1_001_000, 1_010_000,
            1_200_000, 10_000_000, 999_999_000, 1_000_000_000, 40_000_000_000L, 1_000_000_000_000L,
            1_500_000_000_000L, 32_000_000_000L, Long.MAX_VALUE / 8, Rate.MAX_BYTES * 8};
        for (long b : edges) {
            assertEquals(withBigDecimal(b), Rate.format(b), "at " + b);
        }
        for (long b = 0; b < 3_000_000; b += 100) {
            assertEquals(withBigDecimal(b), Rate.format(b), "at " + b);
        }
        SplittableRandom r = new SplittableRandom(24);
        for (int i = 0; i < 200_000; i++) {
            long scale = new long[] {1, 1000, 1_000_000, 1_000_000_000}[i % 4];
            long b = r.nextLong(1, 1_000_000_000_000L / scale) * (i % 3 == 0 ? scale : 1);
            assertEquals(withBigDecimal(b), Rate.format(b), "at " + b);
        }
    }
}
