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
                return String.format(java.util.Locale.ROOT, "%dh %02dmin", s / 3600, (s % 3600) / 60);
            }
            return String.format(java.util.Locale.ROOT, "%dmin %02ds", s / 60, s % 60);
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
        String s = String.format(java.util.Locale.ROOT, "%.3f", v);
        s = s.replaceAll("0+$", "");
        return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
    }
}
