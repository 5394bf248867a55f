package io.tunshape.tc;

/** A time span in microseconds (tc's unit). */
public record Duration(long micros) implements Comparable<Duration> {
    public Duration {
        if (micros < 0) {
            throw new IllegalArgumentException("negative time");
        }
    }

    public static Duration ofMicros(long us) {
        return new Duration(us);
    }

    public static Duration parse(String text) {
        return Units.parseTime(text);
    }

    @Override
    public int compareTo(Duration o) {
        return Long.compare(micros, o.micros);
    }

    /** "2s", "1.25s", "500ms", "12us", "3min 5s" for long spans. */
    @Override
    public String toString() {
        return format(micros);
    }

    public static String format(double us) {
        if (us >= 120e6) {
            long s = Math.round(us / 1e6);
            if (s >= 7200) {
                return s / 3600 + "h " + twoDigits((s % 3600) / 60) + "min";
            }
            return s / 60 + "min " + twoDigits(s % 60) + "s";
        }
        if (us == Math.rint(us)) {
            return formatWhole((long) us);
        }
        if (us >= 1e6) {
            return trim(us / 1e6) + "s";
        }
        if (us >= 1e3) {
            return trim(us / 1e3) + "ms";
        }
        return trim(us) + "us";
    }

    /**
     * The same text for a whole number of microseconds (under 120 s), in long arithmetic: a Duration's
     * own case. The double path's first use builds FloatingDecimal's tables, about 2 ms of a one-shot
     * apply (issue 24); DurationFormatTest holds the two equal.
     */
    private static String formatWhole(long us) {
        if (us >= 1_000_000) {
            long ms = (us + 500) / 1000; // three decimals of a second, half up
            return decimals(ms / 1000, ms % 1000) + "s";
        }
        if (us >= 1000) {
            return decimals(us / 1000, us % 1000) + "ms";
        }
        return us + "us";
    }

    /** "whole.ddd" with trailing zeros (and a bare point) cut. */
    private static String decimals(long whole, long thousandths) {
        if (thousandths == 0) {
            return Long.toString(whole);
        }
        String f = Long.toString(1000 + thousandths);
        int end = f.length();
        while (f.charAt(end - 1) == '0') {
            end--;
        }
        return whole + "." + f.substring(1, end);
    }

    /**
     * {@code v} with at most three decimals, trailing zeros cut: what {@code String.format("%.3f")} gives
     * (Double.toString's digits rounded half up; DurationFormatTest holds them equal) without
     * java.util.Formatter, whose first number loads the JDK's locale data, about 10 ms of a one-shot
     * command's start (issue 24).
     */
    private static String trim(double v) {
        if (!Double.isFinite(v)) {
            return String.valueOf(v);
        }
        String s = java.math.BigDecimal.valueOf(v).setScale(3, java.math.RoundingMode.HALF_UP).toPlainString();
        int end = s.length();
        while (s.charAt(end - 1) == '0') {
            end--;
        }
        return s.substring(0, s.charAt(end - 1) == '.' ? end - 1 : end);
    }

    private static String twoDigits(long v) {
        return v < 10 ? "0" + v : Long.toString(v);
    }
}
