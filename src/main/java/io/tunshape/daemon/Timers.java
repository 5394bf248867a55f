package io.tunshape.daemon;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The event loop's timers, on an injected millisecond clock: one deadline per key, each with what
 * runs when it is due (on the loop's thread; it may arm itself again). The loop sleeps until the
 * earliest ({@link #nextMs}); a key can be anything, a name or a device, so a per-device timer costs
 * one entry.
 */
final class Timers {
    private record Timer(long atMs, Runnable action) {
    }

    private final LongSupplier clock;
    private final Map<Object, Timer> timers = new LinkedHashMap<>();

    Timers(LongSupplier clockMs) {
        this.clock = clockMs;
    }

    /** Arms (or moves) {@code key}'s timer to {@code delayMs} from now. */
    void after(Object key, long delayMs, Runnable action) {
        timers.put(key, new Timer(clock.getAsLong() + delayMs, action));
    }

    /** Arms {@code key}'s timer unless it is armed already. */
    void afterUnlessArmed(Object key, long delayMs, Runnable action) {
        if (!timers.containsKey(key)) {
            after(key, delayMs, action);
        }
    }

    void cancel(Object key) {
        timers.remove(key);
    }

    /** The earliest deadline, or Long.MAX_VALUE when none is armed. */
    long nextMs() {
        long next = Long.MAX_VALUE;
        for (Timer t : timers.values()) {
            next = Math.min(next, t.atMs());
        }
        return next;
    }

    /** Runs every timer due now, once each (disarmed before it runs); how many ran. */
    int runDue() {
        long now = clock.getAsLong();
        List<Runnable> due = new ArrayList<>();
        timers.entrySet().removeIf(e -> {
            if (e.getValue().atMs() <= now) {
                due.add(e.getValue().action());
                return true;
            }
            return false;
        });
        for (Runnable r : due) {
            r.run();
        }
        return due.size();
    }
}
