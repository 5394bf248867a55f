package io.tunshape.tc;

import org.junit.jupiter.api.Test;

import java.util.Locale;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Duration.format writes its numbers without java.util.Formatter (issue 24): the same text as with it. */
class DurationFormatTest {
    /** Duration.format as it was, with String.format. */
    private static String withFormatter(double us) {
        if (us >= 120e6) {
            long s = Math.round(us / 1e6);
            if (s >= 7200) {
                return String.format(Locale.ROOT, "%dh %02dmin", s / 3600, (s % 3600) / 60);
            }
            return String.format(Locale.ROOT, "%dmin %02ds", s / 60, s % 60);
        }
        if (us >= 1e6) {
            return trim(us / 1e6) + "s";
        }
        if (us >= 1e3) {
            return trim(us / 1e3) + "ms";
        }
        return trim(us) + "us";
    }

    private static String trim(double v) {
        String s = String.format(Locale.ROOT, "%.3f", v);
        s = s.replaceAll("0+$", "");
        return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
    }

    @Test
    void sameTextAsStringFormat() {
        double[] edges = {0, 0.0004, 0.0005, 0.0015, 1, 1.0005, 1.2345, 2.5, 999.9995, 999.99949, 1000, 1000.0005,
            1e6 - 0.5, 1e6, 1.0005e6, 1.25e6, 119.9999e6, 119.9995e6, 120e6, 125e6, 7199.4e6, 7199.6e6, 7200e6, 1e12};
        for (double us : edges) {
            assertEquals(withFormatter(us), Duration.format(us), "at " + us);
        }
        SplittableRandom r = new SplittableRandom(24);
        for (int i = 0; i < 200_000; i++) {
            double us = switch (i % 4) {
                case 0 -> r.nextDouble() * 1e3;
                case 1 -> r.nextDouble() * 1e6;
                case 2 -> r.nextDouble() * 2e8;
                default -> r.nextInt(1_000_000) / 8.0;
            };
            assertEquals(withFormatter(us), Duration.format(us), "at " + us);
        }
        for (long us = 0; us < 3_000_000; us += 7) {
            assertEquals(withFormatter(us), Duration.format(us), "at " + us);
        }
    }
}
