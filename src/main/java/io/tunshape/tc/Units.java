package io.tunshape.tc;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** tc(8)'s units: decimal rates (with bps meaning bytes/s), binary sizes, times in microseconds. */
public final class Units {
    public static final String RATE_FORMS =
            "a number with bit, kbit, mbit, gbit, tbit (decimal), kibit, mibit, gibit, tibit (binary), "
                    + "or bps, kbps, mbps, gbps, tbps (bytes per second; kibps.. binary); a bare number is bit/s";
    public static final String SIZE_FORMS =
            "a number of bytes, or with b, k or kb, m or mb, g or gb (binary multiples), or kbit, mbit, gbit";
    public static final String TIME_FORMS = "a number with s, ms or us (a bare number is microseconds)";

    private static final Pattern NUMBER = Pattern.compile("^\\s*([0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)\\s*([a-zA-Z/]*)\\s*$");

    private static final Map<String, BigDecimal> RATE = Map.ofEntries(
            Map.entry("", BigDecimal.ONE), Map.entry("bit", BigDecimal.ONE),
            Map.entry("kbit", dec(1e3)), Map.entry("mbit", dec(1e6)), Map.entry("gbit", dec(1e9)),
            Map.entry("tbit", dec(1e12)),
            Map.entry("kibit", pow(1)), Map.entry("mibit", pow(2)), Map.entry("gibit", pow(3)),
            Map.entry("tibit", pow(4)),
            Map.entry("bps", dec(8)), Map.entry("kbps", dec(8e3)), Map.entry("mbps", dec(8e6)),
            Map.entry("gbps", dec(8e9)), Map.entry("tbps", dec(8e12)),
            Map.entry("kibps", pow(1).multiply(dec(8))), Map.entry("mibps", pow(2).multiply(dec(8))),
            Map.entry("gibps", pow(3).multiply(dec(8))), Map.entry("tibps", pow(4).multiply(dec(8))));

    private static final Map<String, BigDecimal> SIZE = Map.ofEntries(
            Map.entry("", BigDecimal.ONE), Map.entry("b", BigDecimal.ONE),
            Map.entry("k", pow(1)), Map.entry("kb", pow(1)), Map.entry("m", pow(2)), Map.entry("mb", pow(2)),
            Map.entry("g", pow(3)), Map.entry("gb", pow(3)),
            Map.entry("kbit", dec(128)), Map.entry("mbit", dec(131072)), Map.entry("gbit", dec(1L << 27)));

    private static final Map<String, BigDecimal> TIME = Map.ofEntries(
            Map.entry("", BigDecimal.ONE), Map.entry("us", BigDecimal.ONE), Map.entry("usec", BigDecimal.ONE),
            Map.entry("usecs", BigDecimal.ONE),
            Map.entry("ms", dec(1e3)), Map.entry("msec", dec(1e3)), Map.entry("msecs", dec(1e3)),
            Map.entry("s", dec(1e6)), Map.entry("sec", dec(1e6)), Map.entry("secs", dec(1e6)));

    private Units() {
    }

    private static BigDecimal dec(double d) {
        return BigDecimal.valueOf((long) d);
    }

    private static BigDecimal pow(int n) {
        return BigDecimal.valueOf(1024).pow(n);
    }

    private static BigDecimal parse(String text, Map<String, BigDecimal> units, String what, String forms) {
        if (text == null) {
            throw new UnitException("missing " + what + "; expected " + forms);
        }
        Matcher m = NUMBER.matcher(text);
        if (!m.matches()) {
            throw new UnitException("'" + text + "' is not a " + what + "; expected " + forms);
        }
        BigDecimal mult = units.get(m.group(2).toLowerCase(Locale.ROOT));
        if (mult == null) {
            throw new UnitException("unknown unit '" + m.group(2) + "' in '" + text + "'; expected " + forms);
        }
        return new BigDecimal(m.group(1).startsWith(".") ? "0" + m.group(1) : m.group(1)).multiply(mult);
    }

    /** A rate in bits per second, exactly as written (may have a fraction). */
    public static BigDecimal parseRateBits(String text) {
        return parse(text, RATE, "rate", RATE_FORMS);
    }

    /** A rate: bits per second divided by 8 and truncated, as tc does (the kernel counts bytes/s). */
    public static Rate parseRate(String text) {
        BigDecimal bits = parseRateBits(text);
        BigDecimal bytes = bits.divide(BigDecimal.valueOf(8), 0, java.math.RoundingMode.DOWN);
        if (bytes.compareTo(BigDecimal.valueOf(Rate.MAX_BYTES)) > 0) {
            throw new UnitException("rate '" + text + "' is above the largest the kernel holds ("
                    + Rate.ofBytes(Rate.MAX_BYTES) + ")");
        }
        return Rate.ofBytes(bytes.longValue());
    }

    public static Size parseSize(String text) {
        BigDecimal b = parse(text, SIZE, "size", SIZE_FORMS).setScale(0, java.math.RoundingMode.DOWN);
        if (b.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new UnitException("size '" + text + "' is too large");
        }
        return new Size(b.longValue());
    }

    public static Duration parseTime(String text) {
        BigDecimal us = parse(text, TIME, "time", TIME_FORMS).setScale(0, java.math.RoundingMode.DOWN);
        if (us.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new UnitException("time '" + text + "' is too large");
        }
        return Duration.ofMicros(us.longValue());
    }
}
