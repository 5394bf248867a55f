package io.tunshape.daemon;

import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The path of one report, after the report thread parsed it (ReportListener, ReportParser): find
 * the namespace (the one it names, looked up among those served, never opened by that name; or
 * else the sender's own, from the pid the kernel attached), find the device, let its controller
 * decide, and change the rate over the namespace's socket at once, from this thread: waiting for
 * another thread would cost a wake-up on every change.
 */
final class ReportPath implements ReportListener.Sink {
    /** The warm-up's namespace name: no mounted namespace has a "/" in its name. */
    static final String WARM_UP_NETNS = "/warm-up";

    private final Map<String, Namespace> byName;
    private final Map<Long, Namespace> byIno;
    private final Reconciler reconciler;
    private final EventLoop loop;
    final AtomicLong accepted = new AtomicLong();
    /** Report-driven changes: from the report's arrival to the kernel's ack of the new rate. */
    final ChangeLatency latency = new ChangeLatency();
    /** The warm-up's reports handled so far, and its changes' times (kept apart from the real ones). */
    final AtomicInteger warmedUp = new AtomicInteger();
    final ChangeLatency warmUpLatency = new ChangeLatency();
    /** Where the report being handled arrived (epoch ns); set by the listener before each. */
    private ReportListener listener;

    ReportPath(Map<String, Namespace> byName, Map<Long, Namespace> byIno, Reconciler reconciler, EventLoop loop) {
        this.byName = byName;
        this.byIno = byIno;
        this.reconciler = reconciler;
        this.loop = loop;
    }

    void listener(ReportListener l) {
        this.listener = l;
    }

    @Override
    public ReportParser.Reason accept(ReportParser.Report r, int senderPid) {
        Namespace ns = r.netns() != null ? byName.get(r.netns()) : byIno.get(HostNamespaces.inoOf(senderPid));
        if (ns == null) {
            return ReportParser.Reason.UNKNOWN_NAMESPACE;
        }
        Namespace.Device d = ns.devices.get(r.dev());
        RateController c = d == null ? null : d.controller;
        if (c == null) {
            return ReportParser.Reason.UNKNOWN_DEVICE;
        }
        long rate;
        boolean flush;
        synchronized (c) {
            long now = System.nanoTime() / 1_000_000;
            c.report(c.capacityOf(r.capacityBps(), r.txBytes(), r.busyMs()),
                    RateController.queuedBitsOf(r.ring(), r.txBytes(), r.txFrames()),
                    RateController.starved(r.qdisc(), r.busyMs(), r.intervalMs()), now);
            rate = c.tick(now);
            flush = c.takeFlush();
        }
        // the warm-up's reports run the same path but count nowhere
        boolean warm = WARM_UP_NETNS.equals(r.netns());
        if (!warm) {
            accepted.incrementAndGet();
            loop.reporting(ns, d);
        }
        if (rate > 0) {
            if (reconciler.changeRate(ns, d, flush)) {
                long arrived = listener.arrivalNanos();
                if (arrived > 0) {
                    Instant now = Instant.now();
                    long took = now.getEpochSecond() * 1_000_000_000L + now.getNano() - arrived;
                    (warm ? warmUpLatency : latency).record(took);
                    if (!warm) {
                        d.latency.record(took);
                    }
                }
            } else if (!warm) {
                loop.kick(ns);
            }
        }
        if (warm) {
            warmedUp.incrementAndGet();
        }
        return null;
    }

    /** A map the report thread reads while the loop writes it. */
    static <K, V> Map<K, V> shared() {
        return new ConcurrentHashMap<>();
    }
}
