package io.tunshape.daemon;

import io.tunshape.netlink.Message;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.NetnsEntry;
import io.tunshape.netlink.ProcConnector;
import io.tunshape.shape.Session;
import io.tunshape.sys.Epoll;
import io.tunshape.sys.Errno;
import io.tunshape.sys.Fd;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;
import io.tunshape.tc.TcCodec;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The daemon's one event loop, on one thread, for every namespace: it waits (epoll) on the served
 * namespaces' link and tc events (one socket for all of them), on the kernel's process events, on
 * the mount table and on its {@link Timers}; what it sees becomes keys (a namespace appeared, went,
 * or these devices of it changed) for {@link Serving}, which serves or releases namespaces and works
 * off their passes from the {@link WorkQueue}. Nothing wakes it while nothing changes, but a
 * safety-net scan every {@link #SCAN_MS}.
 */
final class EventLoop implements Runnable {
    private static final long PROC = -1;
    private static final long MOUNTS = -2;
    private static final long WAKE = -3;
    private static final long EVENTS = -4;
    /**
     * The receive buffer of the one socket that hears every served namespace's events: it holds
     * only what waits, and an overrun costs a full read of every namespace, so it is large.
     */
    private static final int EVENTS_RCVBUF = 8 << 20;
    /** How often adaptive controllers are ticked while reports come (deferred changes, staleness). */
    private static final int TICK_MS = 250;
    /**
     * A full /proc scan, as a safety net for what process events cannot show (a process that
     * unshares without a fork or exec after it): with events, rarely; without (no CAP_NET_ADMIN on
     * the host), every second. What a scan costs is in status (discovery).
     */
    static final int SCAN_MS = 10_000;
    /**
     * After reading process events the loop leaves their socket alone this long, so that what a
     * busy host does (a build forking thousands of short-lived processes) costs a wake-up per
     * period, not per process: events queue in the socket meanwhile, and a process that came and
     * went within it is never looked at.
     */
    private static final int PROC_BATCH_MS = 200;
    private static final int SCAN_MS_WITHOUT_EVENTS = 1000;
    /**
     * The C heap is trimmed this long after the loop last did work (a pass, a tick): the JVM frees
     * the JIT's arenas (some 7 MB once, for the planner) about 5 s after a compile, and glibc keeps
     * them resident unless asked. This replaces the JVM's own trimmer (-XX:TrimNativeHeapInterval),
     * which costs a thread and a wake-up every interval whether anything happened or not.
     */
    private static final int TRIM_AFTER_MS = 6000;
    /** The loop's timers by name. */
    private enum Timer { TICK, DESCRIBE, PROC_RESUME, MOUNTS_RESUME, SCAN, TRIM }

    private final Supplier<DaemonConfig> config;
    private final Consumer<String> log;
    private final Namespaces namespaces;
    private final WorkQueue<Namespace> queue = new WorkQueue<>(EventLoop::now);
    private final Timers timers = new Timers(EventLoop::now);
    private final HostNamespaces host = new HostNamespaces();
    private final ReportPath reports;
    private final Serving serving;
    /** Hears every served namespace (NETLINK_LISTEN_ALL_NSID), or, after a fallback, each through a socket of its own. */
    private volatile NsEvents events;
    private final int[] eventNsid = new int[1];
    /** The id the daemon's namespace has for itself, if someone gave it one (its events then carry it), else -1. */
    private int ownNsid = -1;
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final Fd wake = Epoll.eventFd();
    private volatile boolean stop;
    private volatile boolean started;
    /** What discovery costs: status shows it. */
    volatile long scans;
    volatile long lastScanMicros;
    volatile long processEvents;
    volatile String processEventsNote = "on";
    private final Object startedSignal = new Object();
    private Epoll epoll;
    private ProcConnector proc;
    private Fd mountinfo;
    private int scanEvery;

    EventLoop(Supplier<DaemonConfig> config, Reconciler reconciler, TcCodec codec, Namespaces namespaces,
              Consumer<String> log) {
        this.config = config;
        this.namespaces = namespaces;
        this.log = log;
        this.reports = new ReportPath(namespaces, this::kick, () -> Epoll.signal(wake), log);
        StallWatch stalls = new StallWatch(timers, EventLoop::now, config, new StallKernel(), namespaces::serves,
                queue::changed, log);
        this.serving = new Serving(config, reconciler, namespaces, queue, host, reports, codec, log, stalls);
    }

    /** The report path, whose devices this loop ticks. */
    ReportPath reports() {
        return reports;
    }

    /** Namespace failures since the start, retried with backoff (metrics). */
    long retries() {
        return queue.retries();
    }

    /** Runs {@code r} on the loop's thread soon (reload, a report's request for a pass). */
    void submit(Runnable r) {
        tasks.add(r);
        Epoll.signal(wake);
    }

    void stop() {
        stop = true;
        Epoll.signal(wake);
    }

    /** Another part of the daemon cannot go on: the loop ends, and {@link #run} throws {@code t}. */
    void fail(Throwable t) {
        failure = t;
        stop();
    }

    private volatile Throwable failure;

    /** A rate change could not be made: the namespace gets a full pass. */
    private void kick(Namespace ns) {
        submit(() -> {
            ns.dirtyAll = true;
            queue.add(ns);
        });
    }

    /** Whether the loop has ended (stopped, or failed). */
    boolean ended() {
        return ended;
    }

    private volatile boolean ended;

    /** Blocks until the first pass over every namespace is done (or the loop has ended). */
    void awaitStarted() throws InterruptedException {
        synchronized (startedSignal) {
            while (!started) {
                startedSignal.wait();
            }
        }
    }

    /** How many namespaces the host has now, served or not (as of the loop's last look). */
    volatile int hostNamespaces;

    @Override
    public void run() {
        try (Epoll ep = new Epoll(256);
             NsEvents allEvents = new NsEvents(EVENTS_RCVBUF, ep, log);
             NetlinkSocket nsids = NetlinkSocket.open();
             NetnsEntry net = NetnsEntry.net();
             NetnsEntry uts = NetnsEntry.uts();
             Fd mounts = Sys.open("/proc/self/mountinfo", Sys.O_RDONLY | Sys.O_CLOEXEC)) {
            epoll = ep;
            events = allEvents;
            mountinfo = mounts;
            serving.use(nsids, net, uts, allEvents);
            try (Fd own = Sys.open("/proc/thread-self/ns/net", Sys.O_RDONLY | Sys.O_CLOEXEC)) {
                ownNsid = nsids.existingNsid(own);
            }
            watch();
            try {
                host.rereadMounts();
                scan();
                pass();
                signalStarted();
                while (!stop) {
                    long next = Math.min(timers.nextMs(), queue.nextDueMs());
                    int n = epoll.await((int) Math.max(0, Math.min(Integer.MAX_VALUE, next - now())));
                    dispatch(n);
                    for (Runnable r; (r = tasks.poll()) != null; ) {
                        r.run();
                    }
                    timers.runDue();
                    pass();
                }
            } finally {
                if (proc != null) {
                    proc.close();
                }
                serving.shutDown();
            }
            if (failure != null) {
                throw new IllegalStateException("stopped: " + failure, failure);
            }
        } finally {
            ended = true;
            signalStarted();
        }
    }

    /** Watches the event socket, the process events (when the kernel gives them), the mount table and the wake-up. */
    private void watch() {
        epoll.add(events.all().fd(), Epoll.EPOLLIN, EVENTS);
        try {
            proc = ProcConnector.open();
            epoll.add(proc.fd(), Epoll.EPOLLIN, PROC);
        } catch (NativeException e) {
            processEventsNote = "off (" + e.getMessage() + "): /proc scanned every "
                    + SCAN_MS_WITHOUT_EVENTS + " ms instead";
            log.accept("process events " + processEventsNote);
        }
        epoll.add(mountinfo, Epoll.EPOLLPRI | Epoll.EPOLLERR, MOUNTS);
        epoll.add(wake, Epoll.EPOLLIN, WAKE);
        scanEvery = proc == null ? SCAN_MS_WITHOUT_EVENTS : SCAN_MS;
    }

    /** Reads what woke the loop. */
    private void dispatch(int n) {
        for (int i = 0; i < n; i++) {
            long key = epoll.data(i);
            if (key == PROC) {
                if (processEvents()) {
                    scan();
                }
                // as for the mount table: read at most every PROC_BATCH_MS, however busy the host is
                epoll.remove(proc.fd());
                timers.after(Timer.PROC_RESUME, PROC_BATCH_MS, () -> {
                    if (processEvents()) {
                        scan();
                    }
                    epoll.add(proc.fd(), Epoll.EPOLLIN, PROC);
                });
            } else if (key == MOUNTS) {
                host.rereadMounts();
                epoll.remove(mountinfo);
                timers.after(Timer.MOUNTS_RESUME, PROC_BATCH_MS, () -> {
                    host.rereadMounts();
                    epoll.add(mountinfo, Epoll.EPOLLPRI | Epoll.EPOLLERR, MOUNTS);
                });
            } else if (key == WAKE) {
                Epoll.drain(wake);
            } else if (key == EVENTS) {
                linkEvents(events.all(), null);
            } else if (key > 0) {
                Namespace ns = events.byKey(key);
                if (ns != null) {
                    linkEvents(ns.events, ns);
                }
            }
        }
    }

    private void signalStarted() {
        synchronized (startedSignal) {
            started = true;
            startedSignal.notifyAll();
        }
    }

    private static long now() {
        return System.nanoTime() / 1_000_000;
    }

    /** A full /proc scan now, and the next one {@link #scanEvery} from now. */
    private void scan() {
        long t0 = System.nanoTime();
        host.fullScan();
        lastScanMicros = (System.nanoTime() - t0) / 1000;
        scans++;
        timers.after(Timer.SCAN, scanEvery, this::scan);
    }

    /** Reads the process events queued; true when some were lost (the socket overran). */
    private boolean processEvents() {
        // a process that forked (or exec'd) and exited within the batch is never looked at
        Set<Integer> toRead = new LinkedHashSet<>();
        boolean lost = false;
        try {
            proc.drain((what, pid) -> {
                processEvents++;
                if (what == ProcConnector.EXIT) {
                    toRead.remove(pid);
                    host.processEvent(true, pid);
                } else {
                    toRead.add(pid);
                }
            });
        } catch (NativeException e) {
            if (e.errno() != Errno.ENOBUFS) {
                throw e;
            }
            lost = true;
        }
        for (int pid : toRead) {
            host.processEvent(false, pid);
        }
        return lost;
    }

    /**
     * Turns the served namespaces' link and tc events into keys: the ifindexes to look at in each,
     * or everything after an overrun. What our own changes cause (the sender is the namespace's
     * session) is skipped, and so is what namespaces not served say. {@code from} is the one socket
     * ({@code only} null: each datagram names its namespace by id) or a served namespace's own.
     */
    private void linkEvents(NetlinkSocket from, Namespace only) {
        try {
            List<Message> ms;
            while ((ms = only != null ? from.receiveEventsNow() : from.receiveEventsNow(eventNsid)) != null) {
                Namespace ns = only != null ? only : sender(eventNsid[0]);
                if (ns == null || ms.isEmpty() || ours(ns, ms.get(0).pid())) {
                    continue;
                }
                for (Message m : ms) {
                    int ix = io.tunshape.link.LinkClient.isLinkMessage(m.type())
                            ? io.tunshape.link.LinkStructs.IfInfoMsg.indexOf(m) : io.tunshape.tc.KernelStructs.TcMsg.ifindexOf(m);
                    if (ix != 0) {
                        ns.dirty.add(ix);
                    }
                }
                queue.changed(ns);
            }
        } catch (NativeException | io.tunshape.netlink.NetlinkException e) {
            log.accept((e instanceof NativeException n && n.errno() == Errno.ENOBUFS ? "events overran (ENOBUFS)"
                    : "event socket: " + e.getMessage()) + (only != null ? "; reading " + only.label() + " afresh"
                    : "; reading every namespace afresh"));
            for (Namespace ns : only != null ? List.of(only) : namespaces.all()) {
                ns.dirtyAll = true;
                queue.changed(ns);
            }
        }
    }

    /** The served namespace a datagram of the one socket came from, by its id; null: none served (or heard on its own socket). */
    private Namespace sender(int id) {
        if (id < 0 || id == ownNsid) {
            return namespaces.byIno(host.own());
        }
        return events.perNamespace() ? null : namespaces.byNsid(id);
    }

    /** Whether a message came from the daemon's own sockets in {@code ns} (a pass's or a rate change's). */
    private static boolean ours(Namespace ns, int sender) {
        Session s = ns.session;
        RateLink r = ns.rates;
        return s == null || sender == s.portId() || (r != null && sender == r.portId());
    }

    /**
     * Works off the keys: namespaces that appeared, changed or went, then the passes due; ticks the
     * devices reporting; trims the C heap once work stops.
     */
    private void pass() {
        long now = now();
        Set<Long> touched = host.takeTouched();
        if (!serving.describeLater.isEmpty()) {
            touched.addAll(serving.describeLater);
            serving.describeLater.clear();
        }
        for (long ino : touched) {
            serving.consider(ino, now);
        }
        if (!touched.isEmpty()) {
            hostNamespaces = host.count();
        }
        if (!serving.describeLater.isEmpty()) {
            timers.afterUnlessArmed(Timer.DESCRIBE, Serving.DESCRIBE_MS, () -> { });
        }
        boolean worked = queue.nextDueMs() <= now;
        serving.workOff();
        if (reports.anyReporting()) {
            timers.afterUnlessArmed(Timer.TICK, TICK_MS, this::tick);
        }
        if (worked || reports.anyReporting()) {
            timers.after(Timer.TRIM, TRIM_AFTER_MS, Sys::trimNativeHeap);
        }
    }

    /** Ticks the controllers of devices with recent reports, and again while some report. */
    private void tick() {
        reports.tick(now(), config.get().tuning().staleMs());
    }

    /** How served namespaces' events are heard (status): see {@link NsEvents#note}. */
    String netnsEventsNote() {
        NsEvents e = events;
        return e == null ? "not started" : e.note;
    }

    /** What becomes of the events the daemon's own rate changes cause (status): see {@link NsEvents#ownChanges}. */
    String ownChangesNote() {
        NsEvents e = events;
        return e == null ? "not started" : e.ownChanges;
    }

    /** Event sockets open for the served namespaces (metrics). */
    int netnsEventSockets() {
        NsEvents e = events;
        return e == null ? 0 : e.sockets;
    }

    /** Every served namespace, for status. */
    List<Namespace> served() {
        return namespaces.all();
    }

    /** On reload: every namespace is looked at again against the new rules, every served one gets a full pass. */
    void reconsiderAll() {
        submit(serving::reconsiderAll);
    }
}
