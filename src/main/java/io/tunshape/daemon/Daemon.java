package io.tunshape.daemon;

import io.tunshape.link.LinkClient;
import io.tunshape.link.LinkInfo;
import io.tunshape.netlink.Message;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.Netns;
import io.tunshape.netlink.Nl;
import io.tunshape.profile.Planner;
import io.tunshape.profile.Profile;
import io.tunshape.profile.ProfileException;
import io.tunshape.profile.ProfileLoader;
import io.tunshape.profile.ShapingRequest;
import io.tunshape.shape.DeviceState;
import io.tunshape.shape.Result;
import io.tunshape.shape.Session;
import io.tunshape.shape.Shaper;
import io.tunshape.sys.Errno;
import io.tunshape.sys.NativeException;
import io.tunshape.tc.Psched;
import io.tunshape.tc.Rate;
import io.tunshape.tc.TcCodec;

import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Keeps every configured tun/tap device shaped to its profile, and adaptive ones to what their
 * backend delivers. One worker per network namespace follows link and traffic-control events
 * (RTNLGRP_LINK, RTNLGRP_TC), so a device created, re-created or un-shaped by someone else is put
 * right within a poll period; an event overrun (ENOBUFS) triggers a full pass. Adaptive devices get
 * htb, whose class changes do not refill the bucket (a tbf change would let a burst out each time).
 */
public final class Daemon {
    private static final String NETNS_DIR = "/var/run/netns";
    /** How often a worker ticks its controllers while reports come (deferred changes, staleness). */
    private static final int TICK_MS = 250;
    /** How long waits last while nothing is going on: one wake-up a second costs no measurable CPU, and stopping waits at most that long. */
    private static final int IDLE_TICK_MS = 1000;
    /** The namespace watcher only needs to notice that the daemon stops: its thread does not hold exit. */
    private static final int WATCH_MS = 5000;

    private volatile DaemonConfig config;
    private final Planner planner;
    private final Consumer<String> log;
    private final Map<String, Worker> workers = new ConcurrentHashMap<>();
    private final Map<String, RateController> controllers = new ConcurrentHashMap<>();
    private final Map<String, Status> status = new ConcurrentHashMap<>();
    /** Profiles loaded for the running configuration, by name or file; emptied on reload. */
    private final Map<String, Profile> profiles = new ConcurrentHashMap<>();
    private volatile boolean stop;
    private final java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
    final ReportListener reports;
    /** Report-driven changes: from the report's arrival to the kernel's ack of the new rate. */
    final ChangeLatency changeLatency = new ChangeLatency();

    /** What status and metrics show for one device. */
    public record Status(String dev, String netns, String profile, long rateBps, long capacityBps, long reportAgeMs,
                         long changes, long flushes, long backlogBytes, long drops, long txDropped) {
    }

    public Daemon(DaemonConfig config, Planner planner, Consumer<String> log) {
        this.config = config;
        this.planner = planner;
        this.log = log;
        this.reports = new ReportListener(this::onReport, log);
    }

    static String key(String netns, String dev) {
        return (netns == null ? "" : netns) + "/" + dev;
    }

    public DaemonConfig config() {
        return config;
    }

    /** The state of every shaped device, read from the kernel now (status and metrics ask; idle costs nothing). */
    public List<Status> status() {
        for (Worker w : workers.values()) {
            w.refreshStatus();
        }
        List<Status> l = new ArrayList<>(status.values());
        l.sort(java.util.Comparator.comparing((Status s) -> s.netns() == null ? "" : s.netns())
                .thenComparing(Status::dev));
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

    /** Replaces the configuration; every worker re-applies with it. */
    public void reload(DaemonConfig c) {
        profiles.clear();
        config = c;
        startWorkers();
        for (Worker w : workers.values()) {
            w.dirtyAll = true;
        }
    }

    public void stop() {
        stop = true;
        stopped.countDown();
    }

    /** Runs until {@link #stop()}; restores what it changed when the configuration says so. */
    public void run(Runnable ready) throws Exception {
        reports.start(config.reportSocket(), config.reportScheduling());
        ControlServer control = new ControlServer(this);
        control.start(config.controlSocket(), config.metrics());
        startWorkers();
        Thread watcher = new Thread(this::watchNamespaces, "netns-watch");
        watcher.setDaemon(true);
        watcher.start();
        warmUp();
        ready.run();
        stopped.await(); // no wake-ups while idle
        for (Worker w : workers.values()) {
            w.stop = true;
        }
        for (Worker w : workers.values()) {
            if (w.thread != null) {
                w.thread.join(5000);
            }
        }
        reports.close();
        control.close();
    }

    /**
     * Reports the warm-up sends: C1 compiles a method after some hundreds of calls (more while its
     * queue is long, as at start-up), and the last ones run what it compiled.
     */
    private static final int WARM_UP_REPORTS = 2000;
    /** The warm-up's namespace key and device: no named namespace has a "/" in its name. */
    static final String WARM_UP_NETNS = "/warm-up";
    static final String WARM_UP_DEV = "warm0";
    /** The warm-up's reports handled so far, and its changes' times (kept apart from the real ones). */
    private final java.util.concurrent.atomic.AtomicInteger warmedUp = new java.util.concurrent.atomic.AtomicInteger();
    private final ChangeLatency warmUpLatency = new ChangeLatency();

    /**
     * Runs the report path for real before the daemon says it is ready, so that the JIT has compiled
     * all of it when the first reports come: cold, a change took up to ten times as long, and the
     * compiler thread, busy with what the first real reports made hot, held the CPU the report thread
     * waited for (1 to 2 ms, seen in the scheduler's trace). In a private network namespace of its own
     * (unshare on a thread of its own; the namespace goes with its last socket), a tap device is
     * shaped with the first adaptive profile, a worker that runs no thread of its own holds it, and
     * made-up reports go to the report socket one at a time: the report thread parses them, its
     * controller (no smoothing, hysteresis nor minimum interval: every report a change) sets a rate,
     * and the class change goes over netlink as for any device. No other namespace is touched.
     */
    private void warmUp() {
        DaemonConfig cfg = config;
        DaemonConfig.Entry entry = null;
        Profile p = null;
        for (DaemonConfig.Entry e : cfg.interfaces()) {
            try {
                p = e.adaptive() ? profile(e.profile()) : null;
            } catch (RuntimeException x) {
                p = null; // the worker says why
            }
            if (p != null && p.adaptive() != null) {
                entry = e;
                break;
            }
        }
        if (entry == null) {
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
        java.util.concurrent.FutureTask<Long> task = new java.util.concurrent.FutureTask<>(() -> {
            io.tunshape.sys.Sys.unshare(io.tunshape.sys.Sys.CLONE_NEWNET);
            return warmUpHere(cfg, e, profile);
        });
        Thread t = new Thread(task, "warm-up");
        t.setDaemon(true);
        t.start();
        try {
            long n = task.get();
            // start with an empty young generation: a collection comes only after some hundreds of
            // reports, not among the first ones (and it stops the report thread for about 1 ms)
            System.gc();
            log.accept("report path warmed up: " + WARM_UP_REPORTS + " reports, " + n + " rate changes in a private "
                    + "namespace in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        } catch (java.util.concurrent.ExecutionException x) {
            log.accept("warming up the report path: " + x.getCause().getMessage()
                    + "; the first changes will be slower");
        } catch (InterruptedException x) {
            Thread.currentThread().interrupt();
        }
    }

    /** The warm-up, in its private namespace: returns how many rate changes its reports made. */
    private long warmUpHere(DaemonConfig cfg, DaemonConfig.Entry e, Profile p) {
        try (io.tunshape.tun.TunDevice tap = io.tunshape.tun.TunDevice.open(WARM_UP_DEV, true);
             Session s = new Session(null, new TcCodec(Psched.system()));
             io.tunshape.sys.UnixDatagram out = new io.tunshape.sys.UnixDatagram()) {
            LinkInfo link = null;
            for (LinkInfo l : s.shaper().snapshot().links()) {
                if (l.name().equals(tap.name())) {
                    link = l;
                }
            }
            if (link == null) {
                throw new IllegalStateException("the warm-up's tap device is not there");
            }
            Worker w = new Worker(WARM_UP_NETNS, s, link, e);
            RateController.Tuning t = cfg.tuning();
            RateController c = controllerFor(p,
                    new RateController.Tuning(1.0, 0, 0, t.staleMs(), t.minBusyMs(), t.drainMs(), t.ringTargetMs()));
            controllers.put(key(WARM_UP_NETNS, link.name()), c);
            try {
                s.apply(List.of(link.name()), w.request(e, link.name()), planner, false);
                workers.put(WARM_UP_NETNS, w);
                sendWarmUpReports(cfg, p, link.name(), out);
                synchronized (c) {
                    return c.changes();
                }
            } finally {
                // gone before its sockets close
                workers.remove(WARM_UP_NETNS);
                controllers.remove(key(WARM_UP_NETNS, link.name()));
            }
        }
    }

    /**
     * Sends the warm-up's reports through the report socket, each once the last one was handled.
     * Capacities low and high in turn (no smoothing, hysteresis nor minimum interval: every report but
     * perhaps the first changes the rate); the fall from high to low empties the queue in latency mode.
     */
    private void sendWarmUpReports(DaemonConfig cfg, Profile p, String dev, io.tunshape.sys.UnixDatagram out) {
        long min = p.adaptive().minRate().bitsPerSecond();
        long span = p.adaptive().maxRate().bitsPerSecond() - min;
        double[] at = {0.1, 0.9, 0.3, 0.7};
        java.nio.ByteBuffer[] made = new java.nio.ByteBuffer[at.length];
        for (int k = 0; k < at.length; k++) {
            long cap = min + (long) (span * at[k]);
            byte[] b = ("{\"v\":1,\"dev\":\"" + dev + "\",\"netns\":\"" + WARM_UP_NETNS
                    + "\",\"interval_ms\":100,\"tx_bytes\":" + cap / 80 + ",\"busy_ms\":100,\"capacity_bps\":" + cap
                    + ",\"tx_frames\":" + (k + 1) + ",\"ring\":" + k + ",\"qdisc\":0}")
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8);
            made[k] = java.nio.ByteBuffer.allocateDirect(b.length).put(b).flip();
        }
        java.nio.ByteBuffer to = io.tunshape.sys.UnixDatagram.address(cfg.reportSocket());
        int base = warmedUp.get();
        for (int i = 0; i < WARM_UP_REPORTS && !stop; i++) {
            long deadline = System.nanoTime() + 1_000_000_000L;
            while (true) {
                try {
                    out.send(made[i % at.length].duplicate(), to.duplicate());
                    break;
                } catch (io.tunshape.sys.NativeException x) {
                    // the socket is full of real reports: wait for room
                    if (x.errno() != io.tunshape.sys.Errno.EAGAIN || System.nanoTime() > deadline) {
                        throw x;
                    }
                    java.util.concurrent.locks.LockSupport.parkNanos(100_000);
                }
            }
            while (warmedUp.get() - base <= i) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("report " + i + " was not handled within 1 s");
                }
                java.util.concurrent.locks.LockSupport.parkNanos(20_000);
            }
        }
    }

    /** A profile of the running configuration, by name or file: loaded once, until a reload. */
    private Profile profile(String nameOrFile) {
        return profiles.computeIfAbsent(nameOrFile,
                n -> new ProfileLoader(ProfileLoader.defaultPath(), planner).load(n));
    }

    /**
     * A controller for an adaptive profile. In latency mode the qdisc holds the latency at the rate,
     * and a fall deeper than what it holds can leave within twice that empties it.
     */
    private RateController controllerFor(Profile p) {
        return controllerFor(p, config.tuning());
    }

    private RateController controllerFor(Profile p, RateController.Tuning tuning) {
        ShapingRequest r = p.request();
        return new RateController(p.link().rate().bitsPerSecond(), p.adaptive().minRate().bitsPerSecond(),
                p.adaptive().maxRate().bitsPerSecond(), p.adaptive().headroom(), tuning,
                r.latency() == null ? 0 : r.latency().micros() / 1000);
    }

    private boolean wantsNetns(String ns) {
        for (DaemonConfig.Entry e : config.interfaces()) {
            if (ns == null ? e.netns() == null : e.netns() != null && glob(e.netns()).matcher(ns).matches()) {
                return true;
            }
        }
        return false;
    }

    private synchronized void startWorkers() {
        Set<String> wanted = new HashSet<>();
        if (wantsNetns(null)) {
            wanted.add("");
        }
        try (var dir = Files.newDirectoryStream(Path.of(NETNS_DIR))) {
            for (Path p : dir) {
                String n = p.getFileName().toString();
                if (wantsNetns(n)) {
                    wanted.add(n);
                }
            }
        } catch (Exception ignored) {
            // no named namespaces
        }
        for (String n : wanted) {
            workers.computeIfAbsent(n, k -> new Worker(k.isEmpty() ? null : k));
        }
    }

    private void watchNamespaces() {
        try (WatchService ws = FileSystems.getDefault().newWatchService()) {
            Path dir = Path.of(NETNS_DIR);
            Files.createDirectories(dir);
            dir.register(ws, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_DELETE);
            while (!stop) {
                WatchKey k = ws.poll(WATCH_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
                if (k == null) {
                    continue;
                }
                for (var ev : k.pollEvents()) {
                    String name = String.valueOf(ev.context());
                    if (ev.kind() == StandardWatchEventKinds.ENTRY_DELETE) {
                        Worker w = workers.remove(name);
                        if (w != null) {
                            w.stop = true;
                            w.gone = true;
                        }
                    }
                }
                k.reset();
                startWorkers();
            }
        } catch (Exception e) {
            log.accept("watching " + NETNS_DIR + " stopped: " + e.getMessage());
        }
    }

    static Pattern glob(String g) {
        return Session.globPattern(g);
    }

    private void onReport(ReportListener.Report r) {
        RateController c = controllers.get(key(r.netns(), r.dev()));
        if (c == null) {
            reports.unknown.incrementAndGet();
            return;
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
            reports.accepted.incrementAndGet();
        }
        if (rate > 0) {
            // change the rate now, from this thread, over the worker's socket for such changes
            Worker w = workers.get(r.netns() == null ? "" : r.netns());
            if (w != null && w.changeNow(r.dev(), flush)) {
                long arrived = reports.arrivalNanos();
                if (arrived > 0) {
                    java.time.Instant now = java.time.Instant.now();
                    (warm ? warmUpLatency : changeLatency).record(now.getEpochSecond() * 1_000_000_000L
                            + now.getNano() - arrived);
                }
            }
        }
        if (warm) {
            warmedUp.incrementAndGet();
        }
    }

    /** One namespace: its events, its devices, its controllers. */
    final class Worker {
        final String netns;
        final Thread thread;
        volatile boolean stop;
        volatile boolean gone;
        volatile boolean dirtyAll = true;
        private final Map<Integer, DeviceState> before = new ConcurrentHashMap<>();
        private final Map<Integer, String> shaped = new ConcurrentHashMap<>();
        /** Serialises changes to this namespace's devices between the worker and report-driven changes. */
        private final Object lock = new Object();
        private volatile Session fast;
        /** The rule each shaped device follows, and the device as last seen, by name. */
        private final Map<String, DaemonConfig.Entry> entries = new ConcurrentHashMap<>();
        private final Map<String, LinkInfo> links = new ConcurrentHashMap<>();
        /** An adaptive device's ring, planned once at max_rate for its profile, mtu and link header. */
        private record Ring(Profile profile, int mtu, int header, Long txqueuelen) {
        }

        private final Map<String, Ring> rings = new ConcurrentHashMap<>();

        Worker(String netns) {
            this.netns = netns;
            this.thread = new Thread(this::run, "worker-" + (netns == null ? "own" : netns));
            thread.setDaemon(true);
            thread.start();
        }

        /**
         * A worker without a thread or events, for the warm-up: {@code link}, in the namespace
         * {@code fast} was opened in, follows {@code e}; report-driven changes go over {@code fast}.
         */
        Worker(String key, Session fast, LinkInfo link, DaemonConfig.Entry e) {
            this.netns = key;
            this.thread = null;
            this.fast = fast;
            links.put(link.name(), link);
            entries.put(link.name(), e);
        }

        private void run() {
            for (int attempt = 0; !stop && !Daemon.this.stop; attempt++) {
                try {
                    Netns.run(netns, () -> {
                        loop();
                        return null;
                    });
                    return;
                } catch (Exception e) {
                    // a namespace file appears before its bind mount: try again shortly
                    if (attempt == 3) {
                        log.accept(where() + ": " + e.getMessage() + "; retrying");
                    }
                    sleep(Math.min(2000, 100L << Math.min(attempt, 4)));
                }
            }
        }

        private String where() {
            return netns == null ? "own namespace" : "namespace " + netns;
        }

        private void loop() throws Exception {
            Set<Integer> dirty = new HashSet<>();
            try (NetlinkSocket events = NetlinkSocket.open(Nl.RTMGRP_LINK | Nl.RTMGRP_TC);
                 Session session = new Session(netns, new TcCodec(Psched.system()));
                 Session fastSession = new Session(netns, new TcCodec(Psched.system()))) {
                // opened here, so it belongs to this namespace; other threads may use it under the lock
                fast = fastSession;
                try {
                    // what our own changes cause wakes nobody (the loop below skips it too)
                    events.ignoreSenders(session.portId(), fastSession.portId());
                } catch (NativeException x) {
                    log.accept(where() + ": no socket filter for our own events: " + x.getMessage());
                }
                log.accept(where() + ": watching");
                while (!stop && !Daemon.this.stop) {
                    boolean busy = dirtyAll || !dirty.isEmpty() || reporting();
                    if (events.poll(busy ? TICK_MS : IDLE_TICK_MS)) {
                        try {
                            for (Message m : events.receiveEvents()) {
                                // what our own changes caused (the event names the port that asked) needs
                                // no pass: an adaptive rate change made one a few hundred ms later, which
                                // held the lock, and the next report's change waited for it
                                if (m.pid() != 0 && (m.pid() == session.portId() || m.pid() == fastSession.portId())) {
                                    continue;
                                }
                                if (m.buffer().capacity() >= Nl.HDRLEN + 8) {
                                    dirty.add(m.buffer().getInt(Nl.HDRLEN + 4));
                                }
                            }
                        } catch (NativeException e) {
                            if (e.errno() != Errno.ENOBUFS) {
                                throw e;
                            }
                            log.accept(where() + ": events overran (ENOBUFS); reading everything afresh");
                            dirtyAll = true;
                        }
                        continue; // drain bursts of events before acting
                    }
                    long now = System.nanoTime() / 1_000_000;
                    for (Map.Entry<Integer, String> s : shaped.entrySet()) {
                        RateController c = controllers.get(key(netns, s.getValue()));
                        if (c != null) {
                            long r;
                            boolean flush;
                            synchronized (c) {
                                r = c.tick(now);
                                flush = c.takeFlush();
                            }
                            if (r > 0 && !changeNow(s.getValue(), flush)) {
                                dirty.add(s.getKey());
                            }
                        }
                    }
                    if (dirtyAll || !dirty.isEmpty()) {
                        synchronized (lock) {
                            reconcile(session, dirtyAll ? null : dirty);
                        }
                        dirtyAll = false;
                        dirty.clear();
                    }
                }
                fast = null;
                if (config.restoreOnExit() && !gone) {
                    synchronized (lock) {
                        restore(session);
                    }
                }
            }
        }

        /**
         * Whether any device here has had reports lately (up to a second past going stale): then the
         * controllers are ticked often, for deferred changes and the fall back when reports stop.
         */
        private boolean reporting() {
            long now = System.nanoTime() / 1_000_000;
            for (String dev : shaped.values()) {
                RateController c = controllers.get(key(netns, dev));
                if (c != null) {
                    long age;
                    synchronized (c) {
                        age = c.reportAgeMs(now);
                    }
                    if (age >= 0 && age <= config.tuning().staleMs() + 1000) {
                        return true;
                    }
                }
            }
            return false;
        }

        /**
         * Applies a device's new adaptive rate at once (from the report thread, or the worker's tick),
         * emptying its queue first when {@code flush} (the rate fell further than the queue drains in
         * twice the latency). False when it could not be done here: the caller reconciles.
         */
        boolean changeNow(String dev, boolean flush) {
            Session s = fast;
            if (s == null) {
                return false;
            }
            DaemonConfig.Entry e = entries.get(dev);
            if (e == null || links.get(dev) == null) {
                return false;
            }
            synchronized (lock) {
                LinkInfo l = links.get(dev);
                ShapingRequest req = request(e, dev);
                try {
                    // the link is known from the last pass: plan for it and change the classes directly
                    io.tunshape.profile.Plan plan = planner.plan(req, new io.tunshape.profile.Device(l.name(), l.mtu(),
                            l.linkHeader(), l.txqueuelen()), false);
                    s.shaper().changeHtbInPlace(l.index(), (io.tunshape.tc.HtbSpec) plan.qdisc(), flush);
                    return true;
                } catch (RuntimeException x) {
                    // not as expected (changed behind our back): the full, idempotent way
                }
                try {
                    s.apply(List.of(dev), req, planner, false);
                } catch (RuntimeException x) {
                    log.accept(where() + ": " + dev + ": " + x.getMessage());
                }
                return true;
            }
        }

        /**
         * Applies the matching profile to each device (only {@code which} ifindexes, or all).
         * Devices that get the same request are applied together: one snapshot for all of them.
         */
        private void reconcile(Session session, Set<Integer> which) {
            Shaper sh = session.shaper();
            Shaper.Snapshot snap = sh.snapshot();
            Set<Integer> present = new HashSet<>();
            Map<ShapingRequest, List<LinkInfo>> groups = new java.util.LinkedHashMap<>();
            Map<ShapingRequest, DaemonConfig.Entry> ruleOf = new HashMap<>();
            for (LinkInfo l : snap.links()) {
                present.add(l.index());
                if (which != null && !which.contains(l.index())) {
                    continue;
                }
                DaemonConfig.Entry e = entryFor(l);
                if (e == null) {
                    continue;
                }
                try {
                    links.put(l.name(), l);
                    ShapingRequest req = request(e, l.name());
                    entries.put(l.name(), e);
                    before.computeIfAbsent(l.index(), k -> sh.state(snap, l));
                    groups.computeIfAbsent(req, k -> new ArrayList<>()).add(l);
                    ruleOf.put(req, e);
                } catch (RuntimeException x) {
                    log.accept(where() + ": " + l.name() + ": " + x.getMessage());
                }
            }
            for (Map.Entry<ShapingRequest, List<LinkInfo>> g : groups.entrySet()) {
                List<String> names = new ArrayList<>();
                for (LinkInfo l : g.getValue()) {
                    names.add(l.name());
                }
                try {
                    List<Result> r = session.apply(names, g.getKey(), planner, false);
                    for (int i = 0; i < r.size(); i++) {
                        shaped.put(g.getValue().get(i).index(), names.get(i));
                        if (r.get(i).changed()) {
                            log.accept(where() + ": " + names.get(i) + ": shaped with " + ruleOf.get(g.getKey()).profile()
                                    + " at " + g.getKey().rate());
                        }
                    }
                } catch (RuntimeException x) {
                    // one device refused: the others were put back; try them one by one
                    for (String n : names) {
                        try {
                            session.apply(List.of(n), g.getKey(), planner, false);
                            for (LinkInfo l : g.getValue()) {
                                if (l.name().equals(n)) {
                                    shaped.put(l.index(), n);
                                }
                            }
                        } catch (RuntimeException y) {
                            log.accept(where() + ": " + n + ": " + y.getMessage());
                        }
                    }
                }
            }
            // devices that went away: forget them (a re-created one is new)
            shaped.keySet().removeIf(ix -> {
                if (!present.contains(ix)) {
                    String name = shaped.get(ix);
                    status.remove(key(netns, name));
                    rings.remove(name);
                    before.remove(ix);
                    return true;
                }
                return false;
            });
        }

        private DaemonConfig.Entry entryFor(LinkInfo l) {
            if (!l.isTunTap()) {
                return null;
            }
            for (DaemonConfig.Entry e : config.interfaces()) {
                boolean nsOk = netns == null ? e.netns() == null
                        : e.netns() != null && glob(e.netns()).matcher(netns).matches();
                if (nsOk && glob(e.match()).matcher(l.name()).matches()) {
                    return e;
                }
            }
            return null;
        }

        private ShapingRequest request(DaemonConfig.Entry e, String dev) {
            Profile p = profile(e.profile());
            ShapingRequest r = p.request();
            if (!e.adaptive() || p.adaptive() == null) {
                controllers.remove(key(netns, dev));
                return r;
            }
            RateController c = controllers.computeIfAbsent(key(netns, dev), k -> controllerFor(p));
            long bps;
            synchronized (c) {
                bps = c.currentBps();
            }
            // tun's ring keeps one size, a second of frames at max_rate: resizing it at each rate change
            // would throw away what it holds, uncounted (the kernel frees the excess), and after a
            // sudden fall in capacity it holds what the shaper let through until the next report (the
            // ring term of the control then drains it)
            Long txq = r.txqueuelen();
            LinkInfo l = links.get(dev);
            if (txq == null && r.deriveTxqueuelen() && l != null) {
                Ring ring = rings.get(dev);
                if (ring == null || ring.profile() != p || ring.mtu() != l.mtu() || ring.header() != l.linkHeader()) {
                    // once, not at each change: a plan is some tens of kilobytes of garbage
                    ShapingRequest atMax = r.asHtb(p.adaptive().maxRate(), null);
                    ring = new Ring(p, l.mtu(), l.linkHeader(), planner.plan(atMax, new io.tunshape.profile.Device(
                            l.name(), l.mtu(), l.linkHeader(), l.txqueuelen()), false).txqueuelen());
                    rings.put(dev, ring);
                }
                txq = ring.txqueuelen();
            }
            // htb: a class change does not refill the bucket, so adapting leaks no burst
            return r.asHtb(Rate.ofBits(bps), txq);
        }

        /** Reads counters for this namespace's devices over the fast session, under the lock. */
        void refreshStatus() {
            Session s = fast;
            if (s == null) {
                return;
            }
            synchronized (lock) {
                try {
                    stats(s);
                } catch (RuntimeException x) {
                    log.accept(where() + ": reading counters: " + x.getMessage());
                }
            }
        }

        private void stats(Session session) {
            for (Session.Shown s : session.show(List.of())) {
                String name = s.link().name();
                if (!shaped.containsValue(name)) {
                    continue;
                }
                DaemonConfig.Entry e = entryFor(s.link());
                RateController c = controllers.get(key(netns, name));
                long rate = -1;
                long cap = -1;
                long age = -1;
                long changes = 0;
                long flushes = 0;
                if (c != null) {
                    synchronized (c) {
                        rate = c.currentBps();
                        cap = c.estimateBps();
                        age = c.reportAgeMs(System.nanoTime() / 1_000_000);
                        changes = c.changes();
                        flushes = c.flushes();
                    }
                } else if (s.qdisc() != null && s.qdisc().tbf() != null) {
                    rate = s.qdisc().tbf().rate().bitsPerSecond();
                } else if (s.qdisc() != null && s.qdisc().htb() != null && !s.qdisc().htb().classes().isEmpty()) {
                    rate = s.qdisc().htb().classes().get(0).rate().bitsPerSecond();
                }
                long backlog = s.qdisc() != null && s.qdisc().stats() != null ? s.qdisc().stats().backlog() : 0;
                long drops = s.qdisc() != null && s.qdisc().stats() != null ? s.qdisc().stats().drops() : 0;
                status.put(key(netns, name), new Status(name, netns, e == null ? null : e.profile(), rate, cap, age,
                        changes, flushes, backlog, drops, s.link().txDropped()));
            }
        }

        private void restore(Session session) {
            Shaper sh = session.shaper();
            Shaper.Snapshot snap = sh.snapshot();
            Map<Integer, LinkInfo> byIndex = new HashMap<>();
            for (LinkInfo l : snap.links()) {
                byIndex.put(l.index(), l);
            }
            int restored = 0;
            for (Map.Entry<Integer, DeviceState> b : before.entrySet()) {
                LinkInfo l = byIndex.get(b.getKey());
                if (l == null || !l.name().equals(b.getValue().link().name())) {
                    continue; // gone, or another device now: nothing of ours to put back
                }
                try {
                    for (Shaper.Step s : sh.restoreSteps(b.getValue(), sh.state(snap, l))) {
                        sh.send(s);
                    }
                    restored++;
                } catch (RuntimeException x) {
                    log.accept(where() + ": putting back " + l.name() + ": " + x.getMessage());
                }
            }
            log.accept(where() + ": put back " + restored + " device(s) as they were");
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
