package io.tunshape.cli;

import io.tunshape.cli.TopModel.History;
import io.tunshape.cli.TopModel.Row;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static io.tunshape.cli.TopModel.NONE;

/**
 * Draws `tunshape top`'s screen as lines of text at most {@code width} columns wide and
 * {@code height} lines high: a header, a table of devices and, for as many devices as fit, the last
 * minute of rate against capacity and sent, and of the backlog, as sparklines. Pure, so tests check
 * a frame without a terminal.
 */
final class TopScreen {
    /** Eighth blocks on a UTF-8 terminal; ASCII of rising weight elsewhere. */
    static final String BLOCKS = "▁▂▃▄▅▆▇█";
    static final String ASCII = "_.-~=+*#";

    private TopScreen() {
    }

    /** What the header says besides the rows. */
    record Header(String clock, long intervalMicros, List<String> namespaces, String daemon, TopModel.Sort sort,
                  boolean reverse, List<String> notes, boolean unicode) {
    }

    static List<String> render(Header h, List<Row> rows, int width, int height) {
        List<String> out = new ArrayList<>();
        out.add("tunshape top  " + h.clock() + "  every " + io.tunshape.tc.Duration.format(h.intervalMicros()) + "  " + rows.size()
                + (rows.size() == 1 ? " device" : " devices") + "  netns: " + String.join(", ", h.namespaces())
                + "  daemon: " + h.daemon());
        out.add("sort: " + h.sort().label + (h.reverse() ? " (reversed)" : "")
                + "   keys: n name, r rate, c capacity, s sent, b backlog, d drops (again: reverse)  q quit");
        for (String n : h.notes()) {
            out.add("! " + n);
        }
        out.add("");
        int nameWidth = 6;
        for (Row r : rows) {
            nameWidth = Math.max(nameWidth, Math.min(32, r.label().length()));
        }
        String fmt = "%-" + nameWidth + "s %-5s %9s %9s %9s %9s %6s %8s %16s %16s %9s";
        out.add(String.format(Locale.ROOT, fmt, "DEVICE", "QDISC", "RATE", "CAPACITY", "SENT", "BACKLOG", "PKTS",
                "WAIT", "QDISC DROPS", "TUN DROPS", "KERNEL FC"));
        int tableEnd = height - 1;
        for (Row r : rows) {
            if (out.size() >= tableEnd) {
                out.add("... " + (rows.size() - rows.indexOf(r)) + " more (a taller terminal shows them)");
                break;
            }
            out.add(String.format(Locale.ROOT, fmt, cut(r.label(), nameWidth), r.now().qdisc(),
                    bits(r.now().rateBps()), bits(r.now().capacityBps()), bits(r.sentBps()),
                    bytes(r.now().backlogBytes()), r.now().backlogPackets(), millis(r.backlogMs()),
                    drops(r.now().qdiscDrops(), r.qdiscDropsNew()), drops(r.now().tunDrops(), r.tunDropsNew()),
                    r.now().flowControl()));
        }
        if (rows.isEmpty()) {
            out.add("(no tun/tap devices)");
        }
        // the history of as many devices as fit below the table
        for (Row r : rows) {
            List<String> chart = chart(r, width, h.intervalMicros(), h.unicode() ? BLOCKS : ASCII);
            if (out.size() + 1 + chart.size() > height) {
                break;
            }
            out.add("");
            out.addAll(chart);
        }
        List<String> fitted = new ArrayList<>();
        for (String line : out.subList(0, Math.min(out.size(), height))) {
            fitted.add(cut(line, width));
        }
        return fitted;
    }

    /** A device's last minute: rate, capacity and sent on one scale, then the backlog on its own. */
    static List<String> chart(Row r, int width, long intervalMicros, String glyphs) {
        History h = r.history();
        int spark = Math.max(10, Math.min(h.rate.length, width - 36));
        long top = Math.max(max(h.rate, spark), Math.max(max(h.capacity, spark), max(h.sent, spark)));
        List<String> out = new ArrayList<>();
        out.add(r.label() + ": the last " + io.tunshape.tc.Duration.format((double) spark * intervalMicros)
                + ", newest right; rate, capacity and sent on one scale, 0 to " + bits(Math.max(top, 0)) + "bit/s");
        out.add("  rate     " + sparkline(h.rate, top, spark, glyphs) + "  " + perSecond(last(h.rate)));
        if (max(h.capacity, spark) != NONE) {
            out.add("  capacity " + sparkline(h.capacity, top, spark, glyphs) + "  " + perSecond(last(h.capacity)));
        }
        out.add("  sent     " + sparkline(h.sent, top, spark, glyphs) + "  " + perSecond(last(h.sent)));
        long queueTop = max(h.backlog, spark);
        out.add("  backlog  " + sparkline(h.backlog, queueTop, spark, glyphs) + "  " + bytes(last(h.backlog))
                + " (scale 0 to " + bytes(Math.max(queueTop, 0)) + ")");
        return out;
    }

    /** The last {@code width} values as block characters scaled to {@code top}; unknown values are blank. */
    static String sparkline(long[] values, long top, int width, String glyphs) {
        StringBuilder b = new StringBuilder(width);
        for (int i = Math.max(0, values.length - width); i < values.length; i++) {
            long v = values[i];
            if (v == NONE) {
                b.append(' ');
            } else if (top <= 0) {
                b.append(glyphs.charAt(0));
            } else {
                int level = (int) Math.round(Math.min(v, top) * (glyphs.length() - 1.0) / top);
                b.append(glyphs.charAt(level));
            }
        }
        while (b.length() < width) {
            b.insert(0, ' ');
        }
        return b.toString();
    }

    private static long max(long[] a, int lastN) {
        long m = NONE;
        for (int i = Math.max(0, a.length - lastN); i < a.length; i++) {
            m = Math.max(m, a[i]);
        }
        return m;
    }

    private static long last(long[] a) {
        return a[a.length - 1];
    }

    private static String perSecond(long bps) {
        return bps == NONE ? "-" : bits(bps) + "bit/s";
    }

    static String cut(String s, int width) {
        return s.length() <= width ? s : s.substring(0, Math.max(0, width));
    }

    /** 3 significant digits with k, M, G (decimal, as tc's kbit and mbit): "9.60k", "972k", "1.00M". */
    static String bits(long bps) {
        if (bps == NONE) {
            return "-";
        }
        return si(bps, "");
    }

    static String bytes(long b) {
        if (b == NONE) {
            return "-";
        }
        return si(b, "B");
    }

    private static String si(long v, String unit) {
        if (v < 1000) {
            return v + unit;
        }
        String[] prefixes = {"k", "M", "G", "T"};
        double x = v;
        int i = -1;
        while (x >= 999.5 && i < prefixes.length - 1) {
            x /= 1000;
            i++;
        }
        String digits = x >= 99.95 ? String.format(Locale.ROOT, "%.0f", x)
                : x >= 9.995 ? String.format(Locale.ROOT, "%.1f", x) : String.format(Locale.ROOT, "%.2f", x);
        return digits + prefixes[i] + unit;
    }

    static String millis(long ms) {
        if (ms == NONE) {
            return "-";
        }
        return ms < 10_000 ? ms + "ms" : String.format(Locale.ROOT, "%.1fs", ms / 1000.0);
    }

    private static String drops(long total, long fresh) {
        return total + (fresh > 0 ? " (+" + fresh + ")" : "");
    }
}
