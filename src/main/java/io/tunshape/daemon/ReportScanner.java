package io.tunshape.daemon;

import io.tunshape.daemon.ReportParser.Outcome;
import io.tunshape.daemon.ReportParser.Report;

/**
 * The report parser's fast path, for reports as drivers write them: one flat JSON object whose keys
 * are lower-case names, whose values are printable-ASCII strings without escapes or whole numbers
 * of at most 15 digits without sign, fraction or exponent, and in which every known field has its
 * type and range. Such a datagram is read here without Jackson (whose parser, made for each report,
 * was about 23 µs of a report's 180 at p50 and 50 µs at p99, all of it cold after an idle gap:
 * docs/daemon.md). Anything else, malformed or not, is left to Jackson ({@code null}), so every
 * refusal and every unusual spelling keeps Jackson's reading; on what it accepts this gives the
 * outcome Jackson gives (ReportScannerTest checks that on random and mutated datagrams).
 */
final class ReportScanner {
    /** Whole numbers up to 15 digits: below 2^53 and every range but the milliseconds'. */
    private static final int MAX_DIGITS = 15;

    private final byte[] b;
    private final int end;
    private int i;

    private ReportScanner(byte[] b, int off, int len) {
        this.b = b;
        this.i = off;
        this.end = off + len;
    }

    /** The outcome, or null: not in the fast path's form (Jackson decides). */
    static Outcome scan(byte[] b, int off, int len) {
        return new ReportScanner(b, off, len).object();
    }

    private double v = -1;
    private String dev;
    private String netns;
    private long interval = -1;
    private long tx = -1;
    private long busy = -1;
    private long cap = -1;
    private long frames = -1;
    private long ring = -1;
    private long qdisc = -1;

    private Outcome object() {
        if (!take('{')) {
            return null;
        }
        if (!take('}')) {
            do {
                String key = key();
                if (key == null || !take(':') || !value(key)) {
                    return null;
                }
            } while (take(','));
            if (!take('}')) {
                return null;
            }
        }
        skipSpace();
        if (i != end) {
            return null;
        }
        Outcome refused = ReportParser.refusal(v, dev, interval, tx, busy);
        return refused != null ? refused : new Outcome(new Report(dev, netns, interval, tx, busy, cap, frames, ring, qdisc),
                null, null);
    }

    /** The value of {@code key}, kept when known: false when not in the fast path's form. */
    private boolean value(String key) {
        skipSpace();
        if (i >= end) {
            return false;
        }
        if (b[i] == '"') {
            String s = string();
            switch (key) {
                case "dev" -> dev = s;
                case "netns" -> netns = s;
                case "v", "interval_ms", "tx_bytes", "busy_ms", "capacity_bps", "tx_frames", "ring", "qdisc" -> {
                    return false; // a string where a number goes: Jackson's refusal
                }
                default -> { } // an unknown field: skipped
            }
            return s != null;
        }
        long n = whole();
        double max = 1e15; // MAX_DIGITS: within every count's range
        switch (key) {
            case "v" -> {
                v = n;
                max = 1e9;
            }
            case "interval_ms" -> {
                interval = n;
                max = ReportParser.MAX_MS;
            }
            case "tx_bytes" -> tx = n;
            case "busy_ms" -> {
                busy = n;
                max = ReportParser.MAX_MS;
            }
            case "capacity_bps" -> cap = n;
            case "tx_frames" -> frames = n;
            case "ring" -> ring = n;
            case "qdisc" -> qdisc = n;
            case "dev", "netns" -> {
                return false; // a number where a string goes: Jackson's refusal
            }
            default -> { }
        }
        // not a plain whole number, or out of range (Jackson's refusal)
        return n >= 0 && n <= max;
    }


    private void skipSpace() {
        while (i < end && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r')) {
            i++;
        }
    }

    /** After spaces, {@code c}: taken; else nothing moves. */
    private boolean take(char c) {
        skipSpace();
        if (i < end && b[i] == c) {
            i++;
            return true;
        }
        return false;
    }

    /** A key of lower-case letters and underscores, or null. */
    private String key() {
        skipSpace();
        if (i >= end || b[i] != '"') {
            return null;
        }
        int from = ++i;
        while (i < end && (b[i] >= 'a' && b[i] <= 'z' || b[i] == '_')) {
            i++;
        }
        if (i >= end || b[i] != '"' || i == from) {
            return null;
        }
        return new String(b, from, i++ - from, java.nio.charset.StandardCharsets.US_ASCII);
    }

    /** At a quote: a string of printable ASCII without escapes, or null. */
    private String string() {
        int from = ++i;
        while (i < end && b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"' && b[i] != '\\') {
            i++;
        }
        if (i >= end || b[i] != '"') {
            return null;
        }
        return new String(b, from, i++ - from, java.nio.charset.StandardCharsets.US_ASCII);
    }

    /** A whole number of 1 to 15 digits (no leading zero unless it is 0) ending the value, or -1. */
    private long whole() {
        int from = i;
        long n = 0;
        while (i < end && b[i] >= '0' && b[i] <= '9') {
            n = n * 10 + (b[i++] - '0');
        }
        int digits = i - from;
        if (digits == 0 || digits > MAX_DIGITS || digits > 1 && b[from] == '0') {
            return -1;
        }
        skipSpace();
        if (i >= end || b[i] != ',' && b[i] != '}') {
            return -1; // a fraction, an exponent, or anything else after it
        }
        return n;
    }
}
