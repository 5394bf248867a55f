package io.tunshape.pump;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Mahimahi trace emulation. Each line of a trace is a millisecond at which one 1500-byte packet may
 * leave (repeated lines: several); the trace repeats, shifted by its last timestamp. Each
 * opportunity carries {@code 1500 * scale} bytes. A frame at the head of the queue collects the
 * bytes of the opportunities from its start on until it has enough; an opportunity that finds
 * nothing queued is lost, as in Mahimahi. Bytes count as read from the device.
 */
public final class TraceModel implements LinkModel {
    private final long[] opportunityMs;
    private final long periodMs;
    private final double bytesPerOpportunity;
    private final long epoch;
    /** Index (unbounded, wraps over periods) of the next opportunity not yet used. */
    private long next;
    /** Bytes left over from the opportunity that finished the last frame, and when it was. */
    private double leftover;
    private long leftoverAt = Long.MIN_VALUE;

    public TraceModel(long[] opportunityMs, double scale, long epochNanos) {
        if (opportunityMs.length == 0) {
            throw new IllegalArgumentException("the trace has no delivery opportunities");
        }
        this.opportunityMs = opportunityMs;
        this.periodMs = Math.max(1, opportunityMs[opportunityMs.length - 1]);
        this.bytesPerOpportunity = 1500 * scale;
        this.epoch = epochNanos;
    }

    /** Reads a trace file: one non-negative integer (ms) per line, in order. */
    public static long[] read(Path file) throws IOException {
        long[] out = new long[1024];
        int n = 0;
        long last = 0;
        int lineNo = 0;
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII)) {
            String line;
            while ((line = r.readLine()) != null) {
                lineNo++;
                line = line.trim();
                if (line.isEmpty()) {
                    continue;
                }
                long v;
                try {
                    v = Long.parseLong(line);
                } catch (NumberFormatException e) {
                    throw new IOException(file + ":" + lineNo + ": '" + line + "' is not a millisecond timestamp");
                }
                if (v < last) {
                    throw new IOException(file + ":" + lineNo + ": timestamps must not decrease (" + v + " after "
                            + last + ")");
                }
                last = v;
                if (n == out.length) {
                    out = java.util.Arrays.copyOf(out, n * 2);
                }
                out[n++] = v;
            }
        }
        if (n == 0) {
            throw new IOException(file + ": no timestamps");
        }
        return java.util.Arrays.copyOf(out, n);
    }

    private long timeOf(long index) {
        long period = index / opportunityMs.length;
        int i = (int) (index % opportunityMs.length);
        return epoch + (period * periodMs + opportunityMs[i]) * 1_000_000L;
    }

    /** The index of the first opportunity at or after time t. */
    private long firstAtOrAfter(long t) {
        long ms = Math.floorDiv(t - epoch + 999_999, 1_000_000L);
        if (ms < 0) {
            ms = 0;
        }
        long period = ms / periodMs;
        long within = ms % periodMs;
        // binary search the first timestamp >= within in this period
        int lo = 0;
        int hi = opportunityMs.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (opportunityMs[mid] < within) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return period * opportunityMs.length + lo;
    }

    /** Bytes of the opportunities between start and now (none in an outage), up to the frame's length. */
    @Override
    public long progress(int bytes, long start, long finish, long now) {
        if (now >= finish) {
            return bytes;
        }
        long count = firstAtOrAfter(now + 1) - firstAtOrAfter(start);
        return Math.min(bytes, (long) (Math.max(0, count) * bytesPerOpportunity));
    }

    @Override
    public long finish(int bytes, long start) {
        double need = bytes;
        long at;
        if (leftover > 0 && leftoverAt >= start) {
            // queued while the last frame finished: it uses what that opportunity had left
            need -= leftover;
            at = leftoverAt;
            leftover = 0;
            if (need <= 0) {
                leftover = -need;
                return at;
            }
        } else {
            leftover = 0;
            next = Math.max(next, firstAtOrAfter(start));
        }
        while (true) {
            at = timeOf(next);
            next++;
            need -= bytesPerOpportunity;
            if (need <= 0) {
                leftover = -need;
                leftoverAt = at;
                return at;
            }
        }
    }
}
