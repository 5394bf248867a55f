package io.tunshape.daemon;

import io.tunshape.profile.Planner;
import io.tunshape.profile.Profile;
import io.tunshape.profile.ProfileException;
import io.tunshape.profile.ProfileLoader;
import io.tunshape.tc.Psched;
import io.tunshape.tc.TcCodec;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;

/**
 * Keeps every configured tun/tap device shaped to its profile, and adaptive ones to what their
 * backend delivers, in every network namespace its rules select. The parts, each in its own place:
 * <ul>
 * <li>{@link HostNamespaces} and {@link NsFacts}: which namespaces the host has, and what a person
 * knows each by;</li>
 * <li>{@link EventLoop}: one thread waits on every namespace's link and tc events, the process
 * events, the mount table and its {@link Timers}, and turns them into keys;</li>
 * <li>{@link Serving} and {@link WorkQueue}: which namespaces are served, and their passes, retried
 * with backoff;</li>
 * <li>{@link Reconciler}: a pass: brings one namespace's devices to what the rules ask, and compiles
 * each adaptive device's rate change ({@link CompiledRate});</li>
 * <li>{@link Namespaces}: the served namespaces and every lookup of them; {@link Namespace}: one
 * namespace's sockets, lock, devices and state;</li>
 * <li>{@link ReportListener}, {@link ReportParser}, {@link ReportPath}, {@link RateLink}: a report,
 * from the socket to the kernel's ack of its new rate, on the report thread;</li>
 * <li>{@link RateController}: the adaptive rate, pure logic;</li>
 * <li>{@link ControlServer}: status and metrics.</li>
 * </ul>
 * Adaptive devices get htb, whose class changes do not refill the bucket (a tbf change would let a
 * burst out each time).
 */
public final class Daemon {
    private volatile DaemonConfig config;
    private final Consumer<String> log;
    private final Reconciler reconciler;
    private final EventLoop loop;
    final ReportPath reportPath;
    final ReportListener reports;
    private final TapMaker tapMaker;
    private final Psched psched = Psched.system();
    private final TcCodec codec = new TcCodec(psched);
    private final Namespaces namespaces = new Namespaces(HostNamespaces::inoOf);
    private volatile WarmUp warmUp;

    /**
     * What status and metrics show for one device. {@code netns}: the namespace's name, or for an
     * unnamed one its label (hostname, command, pid), null for the daemon's own; {@code netnsPath}: a
     * path that opens it now (its mount, or /proc/PID/ns/net), null for the daemon's own.
     */
    /**
     * What status and metrics show for one shaped device. {@code tunFlags}: its tun_flags in sysfs
     * (kernel flow control is IFF_BACKPRESSURE among them), -1 when not read (not tun/tap, or no sysfs).
     */
    public record Status(String dev, String netns, String profile, long rateBps, long capacityBps, long reportAgeMs,
                         long changes, long flushes, long backlogBytes, long drops, long txDropped, String netnsPath,
                         LatencyHistogram latency, Stall stall, int tunFlags) {
    }

    /**
     * A device's stall guard: {@code guarded} when its tun_flags carry kernel flow control; while
     * {@code stalled}, for how long and what the stall dropped; since the start, the stalls, what they
     * dropped, the failures to free senders, and the last failure's reason while it lasts.
     */
    public record Stall(boolean guarded, boolean stalled, long stalledForMs, long dropped, long stalls,
                        long droppedTotal, long failures, String error) {
    }

    /** What status and metrics show for one served namespace. */
    public record NamespaceStatus(long inode, String name, String label, String hostname, String command, int pid,
                                  String container, String state, String reason, int devices, int attempts) {
    }

    /**
     * @param tapMaker makes the warm-up's tap device (null: no warm-up; the first changes are slower)
     */
    public Daemon(DaemonConfig config, Planner planner, Consumer<String> log, TapMaker tapMaker) {
        this.config = config;
        this.log = log;
        this.tapMaker = tapMaker;
        this.reconciler = new Reconciler(() -> this.config, planner, psched, log);
        this.loop = new EventLoop(() -> this.config, reconciler, codec, namespaces, log);
        this.reportPath = loop.reports();
        this.reports = new ReportListener(reportPath, log, loop::fail);
    }

    public DaemonConfig config() {
        return config;
    }

    EventLoop loop() {
        return loop;
    }

    /** The state of every shaped device, read from the kernel now (status and metrics ask; idle costs nothing). */
    public List<Status> status() {
        List<Status> l = new ArrayList<>();
        for (Namespace ns : loop.served()) {
            try {
                l.addAll(reconciler.status(ns));
            } catch (RuntimeException x) {
                log.accept(ns.label() + ": reading counters: " + x.getMessage());
            }
        }
        l.sort(Comparator.comparing((Status s) -> s.netns() == null ? "" : s.netns()).thenComparing(Status::dev));
        return l;
    }

    /** Every namespace the rules select, with its state. */
    public List<NamespaceStatus> namespaces() {
        List<NamespaceStatus> l = new ArrayList<>();
        for (Namespace ns : loop.served()) {
            NsFacts f = ns.facts;
            String container = f.containerName() != null ? f.containerName() : f.containerId();
            l.add(new NamespaceStatus(ns.ino, f.own() ? null : f.name(), f.label(), f.hostname(), f.command(), f.pid(),
                    container, ns.state.name().toLowerCase(java.util.Locale.ROOT), ns.reason, ns.devices.size(),
                    ns.attempts));
        }
        l.sort(Comparator.comparing(NamespaceStatus::label));
        return l;
    }

    /** Checks a configuration completely (profiles included) without applying it. */
    public static void validate(DaemonConfig c, ProfileLoader loader) {
        for (int i = 0; i < c.interfaces().size(); i++) {
            DaemonConfig.Entry e = c.interfaces().get(i);
            Profile p;
            try {
                p = loader.load(e.profile());
            } catch (ProfileException x) {
                throw new ProfileException(c.file(), 0, 0, "interfaces[" + i + "].profile: " + x.getMessage());
            }
            if (e.adaptive() && p.adaptive() == null) {
                throw new ProfileException(c.file(), 0, 0, "interfaces[" + i + "]: adaptive: true needs a profile "
                        + "with an adaptive: section (min_rate, max_rate); " + p.name() + " has none");
            }
        }
    }

    /** Replaces the configuration; every namespace is looked at again with it. */
    public void reload(DaemonConfig c) {
        reconciler.forgetProfiles();
        config = c;
        loop.reconsiderAll();
    }

    public void stop() {
        WarmUp w = warmUp;
        if (w != null) {
            w.stop();
        }
        loop.stop();
    }

    /**
     * Runs until {@link #stop()}; restores what it changed when the configuration says so. Throws
     * when the event loop failed: the daemon cannot do its job then, and should exit non-zero.
     */
    public void run(Runnable ready) throws Exception {
        reports.start(config.reportSocket(), config.reportScheduling());
        ControlServer control = new ControlServer(this);
        control.start(config.controlSocket(), config.metrics());
        // the event loop runs on this thread; a short-lived one warms the report path up once the
        // loop has made its first pass, and then says the daemon is ready
        Thread starter = new Thread(() -> {
            try {
                loop.awaitStarted();
                if (!loop.ended()) {
                    warmUp = new WarmUp(config, reconciler, reportPath, namespaces, tapMaker, codec, log);
                    warmUp.run();
                    ready.run();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "start");
        starter.setDaemon(true);
        starter.start();
        try {
            loop.run(); // until stop(), or a failure the daemon cannot go on after: it propagates
        } finally {
            loop.stop();
            starter.interrupt();
            reports.close();
            control.close();
        }
    }

    /** What discovery costs and sees: status shows it. */
    record Discovery(int hostNamespaces, long scans, long lastScanMicros, long processEvents, String processEventsNote,
                     long retries, String netnsEventsNote, int netnsEventSockets, String ownChangesNote) {
    }

    Discovery discovery() {
        return new Discovery(loop.hostNamespaces, loop.scans, loop.lastScanMicros, loop.processEvents,
                loop.processEventsNote, loop.retries(), loop.netnsEventsNote(), loop.netnsEventSockets(),
                loop.ownChangesNote());
    }
}
