package io.tunshape.daemon;

import io.tunshape.tc.Handle;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The stall guard's wiring (the second objection of 2014 to tun flow control: a reader that stops
 * reading blocks every sender forever). Only devices whose tun_flags carry IFF_BACKPRESSURE are
 * guarded (read after each pass over them: a driver's re-attach can change it); without the flag a
 * stalled reader only makes tun drop. While a namespace has a guarded device, a timer samples it
 * every tenth of {@code stall_after} (at most ten times a second): each device's root backlog in
 * packets and its tx_packets (what its reader has taken), for its {@link StallGuard}. Nothing is
 * sampled while nothing is guarded. On STALL the root is replaced by the stall qdisc (a pfifo with
 * limit 0 at {@link #STALL_HANDLE}), which frees every packet queued (senders blocked on their
 * socket buffers return) and drops what comes until the reader reads again; on RESUME the device's
 * normal pass puts the plan back. A failure to free is logged, counted, shown and retried at each
 * sample; a failed pass is retried by the work queue. On the event loop's thread.
 */
final class StallWatch {
    /** The stall qdisc's handle: tunshape's, below tbf's 7473: and htb's 7474:, so show and status tell it apart. */
    static final Handle STALL_HANDLE = Handle.of(0x7472, 0);
    /** At most four samples a second. */
    static final long MIN_PERIOD_MS = 100;

    /** One device at one sample: its root's backlog, its tx_packets, the stall qdisc's drops (0 when not the root). */
    record Sample(long backlogPackets, long readerPackets, long stallDrops) {
    }

    /** What the guard needs from the kernel: {@link StallKernel}, or a fake in tests. */
    interface Kernel {
        /** The tun_flags of the named devices (name to ifindex); a device sysfs does not show is absent. */
        Map<String, Integer> flags(Namespace ns, Map<String, Integer> indexes) throws Exception;

        /** Every device of the namespace by ifindex. */
        Map<Integer, Sample> sample(Namespace ns);

        /** Replaces the device's root by the stall qdisc; throws what the kernel refused. */
        void free(Namespace ns, Namespace.Device d);
    }

    /** One device's guard and what status and metrics show of it. */
    static final class State {
        volatile boolean guarded;
        volatile boolean stalled;
        /** The pass after a resume puts the plan back without calling it a change by hand. */
        volatile boolean resuming;
        volatile long sinceMs;
        volatile long held;
        volatile long droppedSince;
        /** Why the senders could not be freed (retried at each sample), else null. */
        volatile String error;
        final AtomicLong stalls = new AtomicLong();
        final AtomicLong failures = new AtomicLong();
        private final AtomicLong droppedDone = new AtomicLong();
        /** The loop's: the guard, and the stall_after it was made for. */
        StallGuard guard;
        long guardMs;

        /** What the current stall dropped: what the qdisc held, and what came since. */
        long dropped() {
            return stalled ? held + droppedSince : 0;
        }

        long droppedTotal() {
            return droppedDone.get() + dropped();
        }
    }

    /** What status shows of a device's guard at {@code nowMs} (the loop's clock). */
    static Daemon.Stall shown(State st, long nowMs) {
        boolean stalled = st.stalled;
        return new Daemon.Stall(st.guarded, stalled, stalled ? nowMs - st.sinceMs : 0, st.dropped(), st.stalls.get(),
                st.droppedTotal(), st.failures.get(), st.error);
    }

    private record Key(long ino) {
    }

    private final Timers timers;
    private final LongSupplier clockMs;
    private final Supplier<DaemonConfig> config;
    private final Kernel kernel;
    private final Predicate<Namespace> served;
    private final Consumer<Namespace> reshape;
    private final Consumer<String> log;
    /** The last flags-read failure per namespace, so it is said once. */
    private final Map<Long, String> flagErrors = new HashMap<>();

    /**
     * @param reshape queues a pass over the namespace's dirty devices (the resumed device is marked)
     */
    StallWatch(Timers timers, LongSupplier clockMs, Supplier<DaemonConfig> config, Kernel kernel,
               Predicate<Namespace> served, Consumer<Namespace> reshape, Consumer<String> log) {
        this.timers = timers;
        this.clockMs = clockMs;
        this.config = config;
        this.kernel = kernel;
        this.served = served;
        this.reshape = reshape;
        this.log = log;
    }

    /** How often a namespace with guarded devices is sampled. */
    static long periodMs(long stallAfterMs) {
        // a tenth: a stall is seen at most a tenth of stall_after late, and a reader that reads again
        // is seen as soon (issue 22: senders free within stall_after + 1 s, the plan back within 1 s)
        return Math.max(MIN_PERIOD_MS, stallAfterMs / 10);
    }

    /**
     * After a pass over {@code which} devices (null: all): reads their tun_flags, and samples the
     * namespace while any of its devices is guarded.
     */
    void passed(Namespace ns, Set<Integer> which) {
        Map<String, Integer> indexes = new HashMap<>();
        for (Namespace.Device d : ns.devices.values()) {
            if (which == null || which.contains(d.index)) {
                indexes.put(d.name, d.index);
            }
        }
        if (!indexes.isEmpty()) {
            readFlags(ns, indexes);
        }
        arm(ns);
    }

    private void readFlags(Namespace ns, Map<String, Integer> indexes) {
        Map<String, Integer> flags;
        try {
            flags = kernel.flags(ns, indexes);
            flagErrors.remove(ns.ino);
        } catch (Exception e) {
            String why = "reading tun_flags: " + e.getMessage() + "; the stall guard keeps what it knew";
            if (!why.equals(flagErrors.put(ns.ino, why))) {
                log.accept(ns.label() + ": " + why);
            }
            return;
        }
        for (Map.Entry<String, Integer> e : indexes.entrySet()) {
            Namespace.Device d = ns.devices.get(e.getKey());
            Integer f = flags.get(e.getKey());
            boolean on = f != null && io.tunshape.link.TunFlags.flowControl(f);
            if (d == null || d.stall.guarded == on) {
                continue;
            }
            d.stall.guarded = on;
            d.stall.guard = null;
            if (!on && d.stall.stalled) {
                resume(ns, d, "its driver attached again without kernel flow control");
            }
        }
    }

    /** Samples the namespace every period while one of its devices is guarded; stops otherwise. */
    private void arm(Namespace ns) {
        for (Namespace.Device d : ns.devices.values()) {
            if (d.stall.guarded) {
                timers.afterUnlessArmed(new Key(ns.ino), periodMs(config.get().stallAfterMs()), () -> sample(ns));
                return;
            }
        }
        timers.cancel(new Key(ns.ino));
    }

    /** One sample of the namespace: each guarded device's guard decides. */
    void sample(Namespace ns) {
        if (!served.test(ns)) {
            return; // released: no more samples
        }
        Map<Integer, Sample> samples;
        try {
            samples = kernel.sample(ns);
        } catch (RuntimeException e) {
            log.accept(ns.label() + ": stall guard: reading counters: " + e.getMessage() + "; sampling again");
            samples = Map.of();
        }
        long now = clockMs.getAsLong();
        long stallAfter = config.get().stallAfterMs();
        for (Namespace.Device d : ns.devices.values()) {
            Sample s = samples.get(d.index);
            State st = d.stall;
            if (!st.guarded || s == null) {
                continue;
            }
            if (st.guard == null || st.guardMs != stallAfter) {
                st.guard = new StallGuard(stallAfter * 1_000_000);
                st.guardMs = stallAfter;
            }
            switch (st.guard.observe(now * 1_000_000, s.backlogPackets(), s.readerPackets())) {
                case STALL -> stall(ns, d, s, now);
                case RESUME -> resume(ns, d, "its reader reads again");
                case NONE -> stillStalled(ns, d, s);
            }
        }
        arm(ns);
    }

    private void stall(Namespace ns, Namespace.Device d, Sample s, long now) {
        State st = d.stall;
        st.stalled = true;
        st.sinceMs = now;
        st.held = 0;
        st.droppedSince = 0;
        st.stalls.incrementAndGet();
        free(ns, d, s, "reader stalled (took nothing for " + seconds(config.get().stallAfterMs()) + " with "
                + s.backlogPackets() + " packet(s) queued)");
    }

    /** Frees the senders of a stalled device; on failure says why (once per reason) and retries at the next sample. */
    private void free(Namespace ns, Namespace.Device d, Sample s, String what) {
        State st = d.stall;
        try {
            kernel.free(ns, d);
        } catch (RuntimeException e) {
            st.failures.incrementAndGet();
            String why = e.getMessage() == null ? e.toString() : e.getMessage();
            if (!why.equals(st.error)) {
                log.accept(ns.label() + ": " + d.name + ": " + what + "; could not free its senders: " + why
                        + "; retrying");
            }
            st.error = why;
            return;
        }
        st.held = s.backlogPackets();
        st.error = null;
        log.accept(ns.label() + ": " + d.name + ": " + what + ": senders freed, " + s.backlogPackets()
                + " queued packet(s) dropped; what comes is dropped until it reads again");
    }

    private void stillStalled(Namespace ns, Namespace.Device d, Sample s) {
        State st = d.stall;
        if (!st.stalled) {
            return;
        }
        if (st.error != null) {
            free(ns, d, s, "reader still stalled");
        } else {
            st.droppedSince = Math.max(st.droppedSince, s.stallDrops());
        }
    }

    /** The stall is over: counts what it dropped, says so, and queues the pass that puts the plan back. */
    private void resume(Namespace ns, Namespace.Device d, String why) {
        State st = d.stall;
        long dropped = st.dropped();
        st.droppedDone.addAndGet(dropped);
        st.stalled = false;
        st.error = null;
        st.resuming = true;
        log.accept(ns.label() + ": " + d.name + ": " + why + " after a stall of "
                + seconds(clockMs.getAsLong() - st.sinceMs) + "; " + dropped + " packet(s) dropped; putting the plan back");
        ns.dirty.add(d.index);
        reshape.accept(ns);
    }

    private static String seconds(long ms) {
        return String.format(java.util.Locale.ROOT, "%.1f s", ms / 1000.0);
    }
}
