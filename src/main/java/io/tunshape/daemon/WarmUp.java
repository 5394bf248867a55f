package io.tunshape.daemon;

import io.tunshape.link.LinkInfo;
import io.tunshape.netlink.NamespaceLock;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.Netns;
import io.tunshape.profile.Profile;
import io.tunshape.shape.Session;
import io.tunshape.shape.Shaper;
import io.tunshape.sys.Errno;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.UnixDatagram;
import io.tunshape.tc.TcCodec;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * Runs the report path for real before the daemon says it is ready, so that the JIT has compiled
 * all of it when the first reports come: cold, a change took up to ten times as long, and the
 * compiler thread, busy with what the first real reports made hot, held the CPU the report thread
 * waited for (1 to 2 ms, seen in the scheduler's trace). In a private network namespace of its own
 * (unshare on a thread of its own; the namespace goes with its last socket), a tap device is shaped
 * with the first adaptive profile and made-up reports go to the report socket one at a time: the
 * report thread parses them, its controller (no smoothing, hysteresis nor minimum interval: every
 * report a change) sets a rate, and the compiled class change goes over netlink as for any device. No other
 * namespace is touched.
 */
final class WarmUp {

    /**
     * Reports the warm-up sends: C1 compiles a method after some hundreds of calls (more while its
     * queue is long, as at start-up), and the last ones run what it compiled.
     */
    static final int REPORTS = 2000;
    static final String DEV = "warm0";

    private final DaemonConfig cfg;
    private final Reconciler reconciler;
    private final ReportPath path;
    private final Namespaces namespaces;
    private final TapMaker maker;
    private final TcCodec codec;
    private final Consumer<String> log;
    private volatile boolean stop;

    WarmUp(DaemonConfig cfg, Reconciler reconciler, ReportPath path, Namespaces namespaces, TapMaker maker,
           TcCodec codec, Consumer<String> log) {
        this.cfg = cfg;
        this.reconciler = reconciler;
        this.path = path;
        this.namespaces = namespaces;
        this.maker = maker;
        this.codec = codec;
        this.log = log;
    }

    void stop() {
        stop = true;
    }

    void run() {
        DaemonConfig.Entry entry = null;
        Profile p = null;
        for (DaemonConfig.Entry e : cfg.interfaces()) {
            try {
                p = e.adaptive() ? reconciler.profile(e.profile()) : null;
            } catch (RuntimeException x) {
                p = null; // the reconciler says why
            }
            if (p != null && p.adaptive() != null) {
                entry = e;
                break;
            }
        }
        if (entry == null || maker == null) {
            return;
        }
        if (p.adaptive().minRate().bitsPerSecond() >= p.adaptive().maxRate().bitsPerSecond()) {
            log.accept("report path not warmed up: " + p.name() + " has min_rate = max_rate, so no report changes "
                    + "its rate");
            return;
        }
        long t0 = System.nanoTime();
        DaemonConfig.Entry e = entry;
        Profile profile = p;
        try {
            long n = Netns.runPrivate("warm-up", () -> here(e, profile));
            // start with an empty young generation: a collection comes only after some hundreds of
            // reports, not among the first ones (and it stops the report thread for about 1 ms)
            System.gc();
            log.accept("report path warmed up: " + REPORTS + " reports, " + n + " rate changes in a private "
                    + "namespace in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        } catch (InterruptedException x) {
            Thread.currentThread().interrupt();
        } catch (Exception x) {
            log.accept("warming up the report path: " + x.getMessage() + "; the first changes will be slower");
        }
    }

    /** The warm-up, in its private namespace: returns how many rate changes its reports made. */
    private long here(DaemonConfig.Entry e, Profile p) throws Exception {
        // the private namespace's own lock, taken and dropped by each change as a served one's is: the
        // flock path is compiled too before the first real report (it ran interpreted for about the
        // first 250 reports otherwise); no other process can reach the namespace, nor wait for the lock
        NamespaceLock.Keeper lock = NamespaceLock.keeper();
        try (AutoCloseable tap = maker.tap(DEV);
             Session s = new Session(null, codec);
             RateLink rates = new RateLink(NetlinkSocket.open(), codec, lock);
             UnixDatagram out = new UnixDatagram()) {
            Shaper.Snapshot snap = s.shaper().snapshot();
            LinkInfo link = null;
            for (LinkInfo l : snap.links()) {
                if (l.name().equals(DEV)) {
                    link = l;
                }
            }
            if (link == null) {
                throw new IllegalStateException("the warm-up's tap device is not there");
            }
            NsFacts facts = new NsFacts(-1, false, List.of(Namespaces.WARM_UP_NETNS), 0, null, null, null, null, null);
            Namespace ns = new Namespace(-1, facts);
            ns.session = s;
            ns.rates = rates;
            Namespace.Device d = new Namespace.Device(link, e, s.shaper().state(snap, link));
            RateController.Tuning t = cfg.tuning();
            RateController c = Reconciler.controllerFor(p,
                    new RateController.Tuning(1.0, 0, 0, t.staleMs(), t.minBusyMs(), t.drainMs(), t.ringTargetMs()));
            d.controller = c;
            ns.devices.put(DEV, d);
            try {
                reconciler.shapeAlone(ns, d);
                namespaces.addPrivate(Namespaces.WARM_UP_NETNS, ns);
                send(p, out);
                return c.changes();
            } finally {
                // gone before its sockets close
                namespaces.removePrivate(Namespaces.WARM_UP_NETNS, ns);
                synchronized (ns) {
                    ns.session = null;
                    ns.rates = null;
                }
            }
        } finally {
            lock.close();
            try {
                Files.deleteIfExists(lock.path()); // the namespace goes with the warm-up: so does its lock file
            } catch (java.io.IOException x) {
                log.accept("warm-up: its lock file " + lock.path() + " stays: " + x.getMessage());
            }
        }
    }

    /**
     * Sends the reports through the report socket, each once the last one was handled. Capacities low
     * and high in turn (every report but perhaps the first changes the rate); the fall from high to low
     * empties the queue in latency mode.
     */
    private void send(Profile p, UnixDatagram out) {
        long min = p.adaptive().minRate().bitsPerSecond();
        long span = p.adaptive().maxRate().bitsPerSecond() - min;
        double[] at = {0.1, 0.9, 0.3, 0.7};
        ByteBuffer[] made = new ByteBuffer[at.length];
        for (int k = 0; k < at.length; k++) {
            long cap = min + (long) (span * at[k]);
            String w = ReportParser.write(new ReportParser.Report(DEV, Namespaces.WARM_UP_NETNS, 100, cap / 80, 100,
                    cap, k + 1, k, 0));
            // every other one with the capacity as a decimal, which Jackson reads (ReportScanner leaves it):
            // both of the parser's paths are compiled before the first real report
            byte[] b = (k % 2 == 0 ? w : w.replaceFirst("(\"capacity_bps\":)(\\d+)", "$1$2.0"))
                    .getBytes(StandardCharsets.UTF_8);
            made[k] = ByteBuffer.allocateDirect(b.length).put(b).flip();
        }
        ByteBuffer to = UnixDatagram.address(cfg.reportSocket());
        int base = path.warmedUp.get();
        for (int i = 0; i < REPORTS && !stop; i++) {
            long deadline = System.nanoTime() + 1_000_000_000L;
            while (true) {
                try {
                    out.send(made[i % at.length].duplicate(), to.duplicate());
                    break;
                } catch (NativeException x) {
                    // the socket is full of real reports: wait for room
                    if (x.errno() != Errno.EAGAIN || System.nanoTime() > deadline) {
                        throw x;
                    }
                    LockSupport.parkNanos(100_000);
                }
            }
            while (path.warmedUp.get() - base <= i) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("report " + i + " was not handled within 1 s");
                }
                LockSupport.parkNanos(20_000);
            }
        }
    }
}
