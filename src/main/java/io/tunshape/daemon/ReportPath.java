package io.tunshape.daemon;

import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The path of one report, after the report thread parsed it (ReportListener, ReportParser): find
 * the namespace ({@link Namespaces#forReport}) and the device, let its controller decide, and send
 * the change it compiled ({@link CompiledRate}) over the namespace's {@link RateLink} at once, from
 * this thread: waiting for another thread would cost a wake-up on every change. The loop's tick
 * takes the same way for the changes no report brings (a deferred one, the fall back when reports
 * stop). What cannot go this way (no compiled change yet, the lock held by another process, a
 * refusal) asks the loop for a pass, which sets the controller's rate.
 */
final class ReportPath implements ReportListener.Sink {
    private final Namespaces namespaces;
    /** Asks the loop for a full pass of a namespace. */
    private final Consumer<Namespace> needsPass;
    /** Wakes the loop, so that it ticks the devices reporting. */
    private final Runnable wake;
    private final Consumer<String> log;
    final AtomicLong accepted = new AtomicLong();
    /** Report-driven changes: from the report's arrival to the kernel's ack of the new rate. */
    final ChangeLatency latency = new ChangeLatency();
    /**
     * The same changes from the report thread's recvmsg returning to the kernel's ack: the daemon's
     * own part, without the scheduler's wake-up of the thread (on this project's 2-vCPU VM most of
     * the tail of {@link #latency}: an idle vCPU is woken by the host).
     */
    final ChangeLatency handled = new ChangeLatency();
    /** The warm-up's reports handled so far, and its changes' times (kept apart from the real ones). */
    final AtomicInteger warmedUp = new AtomicInteger();
    final ChangeLatency warmUpLatency = new ChangeLatency();
    /** Changes by what became of them (RateLink.Sent's ordinal; the last: refused by the kernel); the warm-up's left out. */
    final java.util.concurrent.atomic.AtomicLongArray outcomes =
            new java.util.concurrent.atomic.AtomicLongArray(RateLink.Sent.values().length + 1);

    /** Adaptive devices with recent reports: ticked by the loop until their reports go stale. */
    private final Map<Namespace.Device, Namespace> reporting = new ConcurrentHashMap<>();

    ReportPath(Namespaces namespaces, Consumer<Namespace> needsPass, Runnable wake, Consumer<String> log) {
        this.namespaces = namespaces;
        this.needsPass = needsPass;
        this.wake = wake;
        this.log = log;
    }

    @Override
    public ReportParser.Reason accept(ReportParser.Report r, int senderPid, long arrivalNanos, long receivedNanoTime) {
        Namespace ns = namespaces.forReport(r.netns(), senderPid);
        if (ns == null) {
            return ReportParser.Reason.UNKNOWN_NAMESPACE;
        }
        Namespace.Device d = ns.devices.get(r.dev());
        RateController c = d == null ? null : d.controller;
        if (c == null) {
            return ReportParser.Reason.UNKNOWN_DEVICE;
        }
        RateController.Change ch = c.onReport(r, System.nanoTime() / 1_000_000);
        // the warm-up's reports run the same path but count nowhere
        boolean warm = Namespaces.WARM_UP_NETNS.equals(r.netns());
        if (!warm) {
            accepted.incrementAndGet();
            if (reporting.putIfAbsent(d, ns) == null) {
                wake.run(); // the loop may be waiting without a timeout
            }
        }
        if (ch != null && change(ns, d, ch, !warm) && arrivalNanos > 0) {
            if (!warm) {
                handled.record(System.nanoTime() - receivedNanoTime);
            }
            Instant now = Instant.now();
            long took = now.getEpochSecond() * 1_000_000_000L + now.getNano() - arrivalNanos;
            (warm ? warmUpLatency : latency).record(took, arrivalNanos);
            if (!warm) {
                d.latency.record(took);
            }
        }
        if (warm) {
            warmedUp.incrementAndGet();
        }
        return null;
    }

    /** Sends a controller's change: true when the kernel acked it; else a pass follows (unless superseded). */
    private boolean change(Namespace ns, Namespace.Device d, RateController.Change ch, boolean counted) {
        RateLink link = ns.rates;
        RateLink.Sent s;
        try {
            s = link == null ? RateLink.Sent.NOT_COMPILED : link.send(d, ch);
            if (counted) {
                outcomes.incrementAndGet(s.ordinal());
            }
        } catch (RuntimeException x) {
            // not as compiled (changed behind our back, or the namespace is going): a full, idempotent pass
            log.accept(ns.label() + ": " + d.name + ": " + x.getMessage() + "; a full pass follows");
            outcomes.incrementAndGet(RateLink.Sent.values().length);
            s = RateLink.Sent.BUSY;
        }
        if (s == RateLink.Sent.DONE) {
            return true;
        }
        if (s != RateLink.Sent.STALE && namespaces.serves(ns)) {
            needsPass.accept(ns);
        }
        return false;
    }

    /** Whether devices report: the loop then ticks them. */
    boolean anyReporting() {
        return !reporting.isEmpty();
    }

    /** Ticks the controllers of devices with recent reports: deferred changes, and the fall back when reports stop. */
    void tick(long nowMs, long staleMs) {
        for (Map.Entry<Namespace.Device, Namespace> e : reporting.entrySet()) {
            Namespace.Device d = e.getKey();
            Namespace ns = e.getValue();
            RateController c = d.controller;
            if (c == null || ns.devices.get(d.name) != d || !namespaces.serves(ns)) {
                reporting.remove(d);
                continue;
            }
            RateController.Change ch = c.onTick(nowMs);
            if (ch != null) {
                change(ns, d, ch, true);
            }
            if (c.reportAgeMs(nowMs) > staleMs + 1000) {
                reporting.remove(d);
            }
        }
    }

    /** {@code ns} is no longer served: its devices are ticked no more. */
    void forget(Namespace ns) {
        reporting.values().removeIf(n -> n == ns);
    }
}
