package io.tunshape.daemon;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Keys with work to do, on an injected millisecond clock, in the manner of controller-runtime's
 * workqueue: a key is queued once however often it is added (dedupe); a key whose work failed comes
 * back after a backoff that doubles with each failure in a row ({@link #BASE_MS} to {@link #MAX_MS})
 * and is reset by {@link #forget}; failures are counted, per key and in all. Events settle first: a
 * key {@link #changed} is due once it has been quiet {@link #QUIET_MS}, or at the latest
 * {@link #SETTLE_MAX_MS} after the first (a burst of 3000 devices made with `ip -batch` costs a few
 * passes, not one a datagram), and a change makes a pending retry due at once (what failed may work
 * now). One thread uses it (the event loop's).
 */
final class WorkQueue<K> {
    static final long BASE_MS = 100;
    static final long MAX_MS = 30_000;
    static final long QUIET_MS = 20;
    static final long SETTLE_MAX_MS = 250;

    /** One key's state: queued or not, its events, its failures in a row. */
    private static final class Entry {
        boolean queued;
        long retryAtMs;
        long firstEventMs;
        long lastEventMs;
        int failures;
    }

    private final LongSupplier clock;
    private final Map<K, Entry> entries = new LinkedHashMap<>();
    /** Written by the loop, read by status. */
    private volatile long retries;

    WorkQueue(LongSupplier clockMs) {
        this.clock = clockMs;
    }

    private Entry entry(K k) {
        return entries.computeIfAbsent(k, x -> new Entry());
    }

    /** {@code k} has work: due now, or when its backoff ends. */
    void add(K k) {
        entry(k).queued = true;
    }

    /** Something changed for {@code k}: due once the changes settled; a pending backoff no longer holds it. */
    void changed(K k) {
        Entry e = entry(k);
        long now = clock.getAsLong();
        if (e.firstEventMs == 0) {
            e.firstEventMs = now;
        }
        e.lastEventMs = now;
        e.retryAtMs = 0;
        e.queued = true;
    }

    /** {@code k}'s work failed: it comes back after its backoff (100 ms doubled per failure in a row, at most 30 s). */
    void addRateLimited(K k) {
        Entry e = entry(k);
        e.failures++;
        retries++;
        e.retryAtMs = clock.getAsLong() + Math.min(MAX_MS, BASE_MS << Math.min(e.failures - 1, 9));
        e.queued = true;
    }

    /** {@code k}'s work succeeded: its failures are forgotten. */
    void forget(K k) {
        Entry e = entries.get(k);
        if (e != null && !e.queued) {
            entries.remove(k);
        } else if (e != null) {
            e.failures = 0;
            e.retryAtMs = 0;
        }
    }

    /** {@code k} is gone: no work, no count. */
    void remove(K k) {
        entries.remove(k);
    }

    /** Failures in a row of {@code k}. */
    int failures(K k) {
        Entry e = entries.get(k);
        return e == null ? 0 : e.failures;
    }

    /** Failures of every key since the start (metrics). */
    long retries() {
        return retries;
    }

    private static long dueAt(Entry e) {
        long at = e.retryAtMs;
        if (e.firstEventMs != 0) {
            at = Math.max(at, Math.min(e.lastEventMs + QUIET_MS, e.firstEventMs + SETTLE_MAX_MS));
        }
        return at;
    }

    /** When the next key is due (ms on the clock), or Long.MAX_VALUE when none is queued. */
    long nextDueMs() {
        long next = Long.MAX_VALUE;
        for (Entry e : entries.values()) {
            if (e.queued) {
                next = Math.min(next, dueAt(e));
            }
        }
        return next;
    }

    /** Takes the keys due now, in the order they were first queued; each is queued again only when added again. */
    List<K> takeDue() {
        long now = clock.getAsLong();
        List<K> due = new ArrayList<>();
        for (Map.Entry<K, Entry> m : entries.entrySet()) {
            Entry e = m.getValue();
            if (e.queued && dueAt(e) <= now) {
                e.queued = false;
                e.firstEventMs = 0;
                due.add(m.getKey());
            }
        }
        return due;
    }
}
