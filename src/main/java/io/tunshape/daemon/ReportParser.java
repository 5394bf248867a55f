package io.tunshape.daemon;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.json.JsonReadFeature;

import java.io.IOException;

/**
 * The report protocol's parser (tunshape-report(7)): one datagram in, a {@link Report} or the reason
 * it is refused out. Pure: no state, no I/O, safe from any thread, so that it can be called (and
 * fuzzed) on its own. Every number field takes any JSON number: 800000, 800000.0 and 8e5 are one
 * value; a whole-number field rounds a fraction to the nearest; NaN, Infinity, negatives and values
 * beyond a field's range are refused, each with its own reason. Reports as drivers write them (flat,
 * plain strings and whole numbers) are read by {@link ReportScanner} without Jackson; everything else
 * by Jackson's streaming parser, whose reading the fast path matches.
 */
public final class ReportParser {
    /** The largest datagram accepted. */
    public static final int MAX = 4096;
    /** Counts (bytes, frames, bit/s) up to 2^53: every whole number a double holds exactly. */
    static final double MAX_COUNT = 9_007_199_254_740_992.0;
    /** Times in ms up to a day. */
    static final double MAX_MS = 86_400_000.0;

    /** Why a report was refused: status, metrics and the log name them so. */
    public enum Reason {
        OVERSIZED("oversized", "longer than " + MAX + " bytes"),
        MALFORMED("malformed", "not one JSON object"),
        BAD_VERSION("bad_version", "v is not 1"),
        MISSING_FIELD("missing_field", "a required field is missing"),
        WRONG_TYPE("wrong_type", "a field has the wrong type"),
        NOT_FINITE("not_finite", "a number is NaN or Infinity"),
        NEGATIVE("negative", "a number is negative"),
        OUT_OF_RANGE("out_of_range", "a number is beyond its field's range"),
        BAD_DEV("bad_dev", "dev is not an interface name (1 to 15 bytes)"),
        UNAUTHORISED("unauthorised", "the sender may not report"),
        UNKNOWN_NAMESPACE("unknown_namespace", "no namespace the daemon serves is the sender's or the one named"),
        UNKNOWN_DEVICE("unknown_device", "the daemon adapts no such device in that namespace");

        public final String label;
        public final String meaning;

        Reason(String label, String meaning) {
            this.label = label;
            this.meaning = meaning;
        }
    }

    /**
     * A valid report's fields; {@code netns} null when the report names none (the sender's namespace
     * is meant); {@code capacityBps}, {@code txFrames}, {@code ring} and {@code qdisc} -1 when not given.
     */
    public record Report(String dev, String netns, long intervalMs, long txBytes, long busyMs, long capacityBps,
                         long txFrames, long ring, long qdisc) {
    }

    /** A parse's outcome: a report, or a reason with the field it concerns (null when none does). */
    public record Outcome(Report report, Reason refused, String field) {
        static Outcome refuse(Reason r, String field) {
            return new Outcome(null, r, field);
        }

        /** The refusal in words: the reason, and the field when one is to blame. */
        public String why() {
            return refused == null ? "accepted" : refused.label + (field == null ? "" : " (" + field + ")")
                    + ": " + refused.meaning;
        }
    }

    /** NaN and Infinity are read (to be refused as not finite), not taken as a syntax error. */
    private static final JsonFactory JSON = JsonFactory.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

    private ReportParser() {
    }

    /** A number refused: thrown inside the parse, turned into an outcome at its end. */
    private static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;
        final transient Outcome outcome;

        Refused(Reason r, String field) {
            super(null, null, false, false);
            this.outcome = Outcome.refuse(r, field);
        }
    }

    /** Parses {@code b[off, off + len)}. Never throws. */
    public static Outcome parse(byte[] b, int off, int len) {
        if (len > MAX) {
            return Outcome.refuse(Reason.OVERSIZED, null);
        }
        Outcome fast = ReportScanner.scan(b, off, len);
        if (fast != null) {
            return fast;
        }
        return parseWithJackson(b, off, len);
    }

    /** Every datagram's reading, by Jackson's streaming parser (the fast path's yardstick in tests). */
    static Outcome parseWithJackson(byte[] b, int off, int len) {
        try (JsonParser p = JSON.createParser(b, off, len)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return Outcome.refuse(Reason.MALFORMED, null);
            }
            double v = -1;
            String dev = null;
            String netns = null;
            long interval = -1;
            long tx = -1;
            long busy = -1;
            long cap = -1;
            long frames = -1;
            long ring = -1;
            long qdisc = -1;
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String f = p.currentName();
                JsonToken vt = p.nextToken();
                switch (f) {
                    case "v" -> v = number(p, vt, f, 1e9);
                    case "dev" -> dev = string(p, vt, f);
                    case "netns" -> netns = string(p, vt, f);
                    case "interval_ms" -> interval = whole(p, vt, f, MAX_MS);
                    case "tx_bytes" -> tx = whole(p, vt, f, MAX_COUNT);
                    case "busy_ms" -> busy = whole(p, vt, f, MAX_MS);
                    // optional: present means a number >= 0 (capacity 0: the link carries nothing now)
                    case "capacity_bps" -> cap = whole(p, vt, f, MAX_COUNT);
                    case "tx_frames" -> frames = whole(p, vt, f, MAX_COUNT);
                    case "ring" -> ring = whole(p, vt, f, MAX_COUNT);
                    case "qdisc" -> qdisc = whole(p, vt, f, MAX_COUNT);
                    default -> p.skipChildren();
                }
            }
            if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
                return Outcome.refuse(Reason.MALFORMED, null);
            }
            Outcome refused = refusal(v, dev, interval, tx, busy);
            if (refused != null) {
                return refused;
            }
            return new Outcome(new Report(dev, netns, interval, tx, busy, cap, frames, ring, qdisc), null, null);
        } catch (Refused r) {
            return r.outcome;
        } catch (IOException | RuntimeException e) {
            return Outcome.refuse(Reason.MALFORMED, null);
        }
    }

    /** Why a report with these required fields (-1 or null: missing) is refused, or null when it is not. */
    static Outcome refusal(double v, String dev, long interval, long tx, long busy) {
        String missing = v < 0 ? "v" : dev == null ? "dev" : interval < 0 ? "interval_ms" : tx < 0 ? "tx_bytes"
                : busy < 0 ? "busy_ms" : null;
        if (missing != null) {
            return Outcome.refuse(Reason.MISSING_FIELD, missing);
        }
        if (v != 1) {
            return Outcome.refuse(Reason.BAD_VERSION, "v");
        }
        if (dev.isEmpty() || dev.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 15 || dev.contains("/")
                || dev.indexOf('\0') >= 0) {
            return Outcome.refuse(Reason.BAD_DEV, "dev");
        }
        if (interval == 0) {
            return Outcome.refuse(Reason.OUT_OF_RANGE, "interval_ms");
        }
        return null;
    }

    private static String string(JsonParser p, JsonToken t, String field) throws IOException, Refused {
        if (t != JsonToken.VALUE_STRING) {
            p.skipChildren();
            throw new Refused(Reason.WRONG_TYPE, field);
        }
        return p.getText();
    }

    /** Any JSON number in [0, max]. */
    private static double number(JsonParser p, JsonToken t, String field, double max) throws IOException, Refused {
        if (t != JsonToken.VALUE_NUMBER_INT && t != JsonToken.VALUE_NUMBER_FLOAT) {
            p.skipChildren();
            throw new Refused(Reason.WRONG_TYPE, field);
        }
        if (p.isNaN()) {
            // NaN and +-Infinity tokens, which JSON itself does not have
            throw new Refused(Reason.NOT_FINITE, field);
        }
        double d = p.getDoubleValue();
        if (Double.isInfinite(d)) {
            // a literal too large for a double (1e400): a finite number, out of every range
            throw new Refused(d < 0 ? Reason.NEGATIVE : Reason.OUT_OF_RANGE, field);
        }
        if (d < 0 && d != 0) {
            throw new Refused(Reason.NEGATIVE, field);
        }
        if (d > max) {
            throw new Refused(Reason.OUT_OF_RANGE, field);
        }
        return d;
    }

    /** A whole-number field: any JSON number in [0, max], rounded to the nearest whole. */
    private static long whole(JsonParser p, JsonToken t, String field, double max) throws IOException, Refused {
        if (t == JsonToken.VALUE_NUMBER_INT && p.getNumberType() == JsonParser.NumberType.LONG
                || t == JsonToken.VALUE_NUMBER_INT && p.getNumberType() == JsonParser.NumberType.INT) {
            long l = p.getLongValue();
            if (l < 0) {
                throw new Refused(Reason.NEGATIVE, field);
            }
            if (l > max) {
                throw new Refused(Reason.OUT_OF_RANGE, field);
            }
            return l;
        }
        return Math.round(number(p, t, field, max));
    }

    /** A report as the protocol writes it (the warm-up sends these; tests and fuzzers may too). */
    public static String write(Report r) {
        java.io.StringWriter w = new java.io.StringWriter(160);
        try (com.fasterxml.jackson.core.JsonGenerator g = JSON.createGenerator(w)) {
            g.writeStartObject();
            g.writeNumberField("v", 1);
            g.writeStringField("dev", r.dev());
            if (r.netns() != null) {
                g.writeStringField("netns", r.netns());
            }
            g.writeNumberField("interval_ms", r.intervalMs());
            g.writeNumberField("tx_bytes", r.txBytes());
            g.writeNumberField("busy_ms", r.busyMs());
            String[] names = {"capacity_bps", "tx_frames", "ring", "qdisc"};
            long[] values = {r.capacityBps(), r.txFrames(), r.ring(), r.qdisc()};
            for (int i = 0; i < names.length; i++) {
                if (values[i] >= 0) {
                    g.writeNumberField(names[i], values[i]);
                }
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return w.toString();
    }
}
