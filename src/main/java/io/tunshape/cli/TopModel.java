package io.tunshape.cli;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What `tunshape top` knows: per device the latest observation, the rates derived from the one
 * before it, and a fixed-length history (the last minute) of rate, capacity and backlog. Pure: the
 * caller passes the clock, so tests feed it made-up observations.
 */
final class TopModel {
    /** Unknown (no qdisc, no daemon, no earlier sample). */
    static final long NONE = -1;

    /**
     * One device as read from the kernel (and the daemon) at one moment. {@code flowControl}: "on" or
     * "off" for kernel flow control (IFF_BACKPRESSURE in the device's tun_flags), "?" where they could
     * not be read, "-" for devices that are not tun/tap.
     */
    record Observation(String netns, String dev, String kind, String qdisc, long rateBps, long capacityBps,
                       long backlogBytes, long backlogPackets, long qdiscDrops, long tunDrops, long txBytes,
                       String flowControl) {
        String key() {
            return (netns == null ? "" : netns) + "\0" + dev;
        }
    }

    /** A device as top shows it. {@code sentBps} and the drops per interval need an earlier sample. */
    record Row(Observation now, long sentBps, long qdiscDropsNew, long tunDropsNew, History history) {
        /** The time the backlog takes to leave at the shaping rate, in ms; NONE without a rate. */
        long backlogMs() {
            return now.rateBps() > 0 ? now.backlogBytes() * 8_000 / now.rateBps() : NONE;
        }

        String label() {
            return now.netns() == null ? now.dev() : now.netns() + "/" + now.dev();
        }
    }

    /** The last {@code length} samples of each series, oldest first; NONE where unknown. */
    static final class History {
        final long[] rate;
        final long[] capacity;
        final long[] sent;
        final long[] backlog;
        private int filled;

        History(int length) {
            rate = filled(length);
            capacity = filled(length);
            sent = filled(length);
            backlog = filled(length);
        }

        private static long[] filled(int n) {
            long[] a = new long[n];
            java.util.Arrays.fill(a, NONE);
            return a;
        }

        void push(long r, long c, long s, long b) {
            shift(rate, r);
            shift(capacity, c);
            shift(sent, s);
            shift(backlog, b);
            filled = Math.min(filled + 1, rate.length);
        }

        private static void shift(long[] a, long v) {
            System.arraycopy(a, 1, a, 0, a.length - 1);
            a[a.length - 1] = v;
        }

        int samples() {
            return filled;
        }
    }

    enum Sort {
        NAME('n', "name"), RATE('r', "rate"), CAPACITY('c', "capacity"), SENT('s', "sent"),
        BACKLOG('b', "backlog"), DROPS('d', "drops");

        final char key;
        final String label;

        Sort(char key, String label) {
            this.key = key;
            this.label = label;
        }

        static Sort forKey(char k) {
            for (Sort s : values()) {
                if (s.key == k) {
                    return s;
                }
            }
            return null;
        }

        static Sort parse(String text) {
            for (Sort s : values()) {
                if (s.label.equals(text.toLowerCase(Locale.ROOT))) {
                    return s;
                }
            }
            throw new IllegalArgumentException("'" + text + "' is not a sort key; accepted: name, rate, capacity, "
                    + "sent, backlog, drops");
        }
    }

    private final int historyLength;
    private final Map<String, Row> rows = new HashMap<>();
    private long lastNanos = NONE;

    TopModel(int historyLength) {
        this.historyLength = historyLength;
    }

    /** Takes one round of observations; devices not in it are forgotten (deleted, or their namespace is gone). */
    void update(long nanos, List<Observation> round) {
        Map<String, Row> next = new HashMap<>();
        double seconds = lastNanos == NONE ? 0 : (nanos - lastNanos) / 1e9;
        for (Observation o : round) {
            Row before = rows.get(o.key());
            History h = before != null ? before.history() : new History(historyLength);
            long sent = NONE;
            long qNew = NONE;
            long tNew = NONE;
            // counters that went down belong to a re-created device or qdisc: no rate from them
            if (before != null && seconds > 0 && o.txBytes() >= before.now().txBytes()) {
                sent = Math.round((o.txBytes() - before.now().txBytes()) * 8 / seconds);
            }
            if (before != null && o.qdiscDrops() >= before.now().qdiscDrops()) {
                qNew = o.qdiscDrops() - before.now().qdiscDrops();
            }
            if (before != null && o.tunDrops() >= before.now().tunDrops()) {
                tNew = o.tunDrops() - before.now().tunDrops();
            }
            h.push(o.rateBps(), o.capacityBps(), sent, o.backlogBytes());
            next.put(o.key(), new Row(o, sent, qNew, tNew, h));
        }
        rows.clear();
        rows.putAll(next);
        lastNanos = nanos;
    }

    /** The rows, sorted: by name ascending, every other key descending (biggest first); reversed on request. */
    List<Row> rows(Sort sort, boolean reverse) {
        Comparator<Row> byName = Comparator.comparing((Row r) -> r.now().netns() == null ? "" : r.now().netns())
                .thenComparing(r -> r.now().dev());
        Comparator<Row> c = switch (sort) {
            case NAME -> byName;
            case RATE -> Comparator.comparingLong((Row r) -> r.now().rateBps()).reversed().thenComparing(byName);
            case CAPACITY -> Comparator.comparingLong((Row r) -> r.now().capacityBps()).reversed().thenComparing(byName);
            case SENT -> Comparator.comparingLong(Row::sentBps).reversed().thenComparing(byName);
            case BACKLOG -> Comparator.comparingLong((Row r) -> r.now().backlogBytes()).reversed().thenComparing(byName);
            case DROPS -> Comparator.comparingLong((Row r) -> r.now().qdiscDrops() + r.now().tunDrops()).reversed()
                    .thenComparing(byName);
        };
        List<Row> out = new ArrayList<>(rows.values());
        out.sort(reverse ? c.reversed() : c);
        return out;
    }
}
