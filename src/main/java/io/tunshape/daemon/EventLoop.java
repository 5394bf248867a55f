package io.tunshape.daemon;

import io.tunshape.netlink.Message;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.NetnsEntry;
import io.tunshape.netlink.Nl;
import io.tunshape.netlink.ProcConnector;
import io.tunshape.shape.Session;
import io.tunshape.sys.Epoll;
import io.tunshape.sys.Errno;
import io.tunshape.sys.Fd;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;
import io.tunshape.tc.TcCodec;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The daemon's one event loop, on one thread, for every namespace: it waits (epoll) on the served
 * namespaces' link and tc events (one socket for all of them), on the kernel's process events and
 * on the mount table; what it sees
 * becomes keys (a namespace appeared, went, or these devices of it changed), and the keys are worked
 * off after each wake-up: namespaces served or released ({@link #consider}), devices reconciled
 * ({@link Reconciler#reconcile}). A namespace that fails is retried with backoff and says why in
 * status. Nothing wakes it while nothing changes, but a safety-net scan every {@link #SCAN_MS}.
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
     * Events are acted on once their namespace has been quiet this long, or at the latest
     * {@link #SETTLE_MAX_MS} after the first: a burst (3000 devices made with `ip -batch`) then costs
     * a few passes, not one a datagram, each of them a dump the burst interrupts and redoes.
     */
    private static final int QUIET_MS = 20;
    private static final int SETTLE_MAX_MS = 250;
    /** A namespace is described again (hostname, command) at most this often, however busy it is. */
    private static final int DESCRIBE_MS = 250;
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

    private final Supplier<DaemonConfig> config;
    private final Reconciler reconciler;
    private final Consumer<String> log;
    private final TcCodec codec;
    final Map<Long, Namespace> byIno = new ConcurrentHashMap<>();
    final Map<String, Namespace> byName = new ConcurrentHashMap<>();
    /** Served namespaces by the id the daemon's namespace has for them (what their events carry). */
    private final Map<Integer, Namespace> byNsid = new HashMap<>();
    /** Hears every served namespace (NETLINK_LISTEN_ALL_NSID); asks ids of this namespace. */
    private NetlinkSocket events;
    private NetlinkSocket ids;
    private final int[] eventNsid = new int[1];
    /** The id the daemon's namespace has for itself, if someone gave it one (its events then carry it), else -1. */
    private int ownNsid = -1;
    /** When the C heap is next trimmed (ms), or 0: nothing happened since the last trim. */
    private long trimAtMs;
    private final HostNamespaces host = new HostNamespaces();
    /** When each namespace was last described, so a busy one is not re-read on every event. */
    private final Map<Long, Long> describedAt = new HashMap<>();
    private final Set<Long> describeLater = new HashSet<>();
    /** Namespaces with work: events to look at, or a retry due. */
    private final Set<Namespace> work = new LinkedHashSet<>();
    /** Adaptive devices with recent reports: ticked every {@link #TICK_MS}. */
    private final Map<Namespace.Device, Namespace> reporting = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final Fd wake = Epoll.eventFd();
    private volatile boolean stop;
    private volatile boolean started;
    /** What discovery costs: status shows it. */
    volatile long scans;
    volatile long lastScanMicros;
    volatile long processEvents;
    volatile String processEventsNote = "on";
    private long lastTickMs;
    /** When the process-event socket is watched again (0: it is watched). */
    private long procResumeAt;
    /** When the mount table is watched again (0: it is watched). */
    private long mountsResumeAt;
    private final Object startedSignal = new Object();

    EventLoop(Supplier<DaemonConfig> config, Reconciler reconciler, TcCodec codec, Consumer<String> log) {
        this.config = config;
        this.reconciler = reconciler;
        this.codec = codec;
        this.log = log;
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

    /** The report thread could not change a rate: the namespace gets a full pass. */
    void kick(Namespace ns) {
        submit(() -> {
            ns.dirtyAll = true;
            work.add(ns);
        });
    }

    /** An adaptive device just had a report: its controller is ticked until its reports go stale. */
    void reporting(Namespace ns, Namespace.Device d) {
        if (reporting.putIfAbsent(d, ns) == null) {
            Epoll.signal(wake); // the loop may be waiting without a timeout
        }
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

    /** Every served namespace (status). */
    List<Namespace> served() {
        return new ArrayList<>(byIno.values());
    }

    /** How many namespaces the host has now, served or not (as of the loop's last look). */
    volatile int hostNamespaces;

    @Override
    public void run() {
        try (Epoll epoll = new Epoll(256);
             NetlinkSocket allEvents = NetlinkSocket.openAllNamespaces(Nl.RTMGRP_LINK | Nl.RTMGRP_TC, EVENTS_RCVBUF);
             NetlinkSocket nsids = NetlinkSocket.open();
             NetnsEntry net = NetnsEntry.net();
             NetnsEntry uts = NetnsEntry.uts();
             Fd mountinfo = Sys.open("/proc/self/mountinfo", Sys.O_RDONLY | Sys.O_CLOEXEC)) {
            events = allEvents;
            ids = nsids;
            try (Fd own = Sys.open("/proc/thread-self/ns/net", Sys.O_RDONLY | Sys.O_CLOEXEC)) {
                ownNsid = ids.existingNsid(own);
            }
            epoll.add(events.fd(), Epoll.EPOLLIN, EVENTS);
            ProcConnector proc = null;
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
            int scanEvery = proc == null ? SCAN_MS_WITHOUT_EVENTS : SCAN_MS;
            host.rereadMounts();
            scan();
            long lastScan = now();
            pass(net, uts);
            signalStarted();
            try {
                while (!stop) {
                    int n = epoll.await(timeout(lastScan + scanEvery));
                    boolean lost = false;
                    for (int i = 0; i < n; i++) {
                        long key = epoll.data(i);
                        if (key == PROC) {
                            lost |= processEvents(proc);
                            epoll.remove(proc.fd());
                            procResumeAt = now() + PROC_BATCH_MS;
                        } else if (key == MOUNTS) {
                            // as process events: the mount table is read at most every PROC_BATCH_MS,
                            // however many namespaces others add and delete meanwhile
                            host.rereadMounts();
                            epoll.remove(mountinfo);
                            mountsResumeAt = now() + PROC_BATCH_MS;
                        } else if (key == WAKE) {
                            Epoll.drain(wake);
                        } else if (key == EVENTS) {
                            linkEvents();
                        }
                    }
                    for (Runnable r; (r = tasks.poll()) != null; ) {
                        r.run();
                    }
                    if (mountsResumeAt != 0 && now() >= mountsResumeAt) {
                        mountsResumeAt = 0;
                        host.rereadMounts();
                        epoll.add(mountinfo, Epoll.EPOLLPRI | Epoll.EPOLLERR, MOUNTS);
                    }
                    if (procResumeAt != 0 && now() >= procResumeAt) {
                        procResumeAt = 0;
                        lost |= processEvents(proc);
                        epoll.add(proc.fd(), Epoll.EPOLLIN, PROC);
                    }
                    if (lost || now() - lastScan >= scanEvery) {
                        scan();
                        lastScan = now();
                    }
                    pass(net, uts);
                }
            } finally {
                if (proc != null) {
                    proc.close();
                }
                shutDown();
            }
            if (failure != null) {
                throw new IllegalStateException("stopped: " + failure, failure);
            }
        } finally {
            ended = true;
            signalStarted();
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

    /** Until the next thing due: a retry, a tick, a namespace to describe again, the next scan. */
    private int timeout(long scanAt) {
        long now = now();
        long next = scanAt;
        for (Namespace ns : work) {
            next = Math.min(next, dueAt(ns));
        }
        if (!reporting.isEmpty()) {
            next = Math.min(next, lastTickMs + TICK_MS);
        }
        if (!describeLater.isEmpty()) {
            next = Math.min(next, now + DESCRIBE_MS);
        }
        if (procResumeAt != 0) {
            next = Math.min(next, procResumeAt);
        }
        if (mountsResumeAt != 0) {
            next = Math.min(next, mountsResumeAt);
        }
        if (trimAtMs != 0) {
            next = Math.min(next, trimAtMs);
        }
        return (int) Math.max(0, Math.min(Integer.MAX_VALUE, next - now));
    }

    private void scan() {
        long t0 = System.nanoTime();
        host.fullScan();
        lastScanMicros = (System.nanoTime() - t0) / 1000;
        scans++;
    }

    /** Reads the process events queued; true when some were lost (the socket overran). */
    private boolean processEvents(ProcConnector proc) {
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
     * session) is skipped, and so is what namespaces not served say.
     */
    private void linkEvents() {
        long now = now();
        try {
            List<Message> ms;
            while ((ms = events.receiveEventsNow(eventNsid)) != null) {
                int id = eventNsid[0];
                Namespace ns = id < 0 || id == ownNsid ? byIno.get(host.own()) : byNsid.get(id);
                Session s = ns == null ? null : ns.session;
                if (s == null || ms.isEmpty() || ms.get(0).pid() == s.portId()) {
                    continue;
                }
                for (Message m : ms) {
                    int ix = io.tunshape.link.LinkClient.isLinkMessage(m.type())
                            ? io.tunshape.link.LinkStructs.IfInfoMsg.indexOf(m) : io.tunshape.tc.KernelStructs.TcMsg.ifindexOf(m);
                    if (ix != 0) {
                        ns.dirty.add(ix);
                    }
                }
                changed(ns, now);
            }
        } catch (NativeException | io.tunshape.netlink.NetlinkException e) {
            log.accept((e instanceof NativeException n && n.errno() == Errno.ENOBUFS ? "events overran (ENOBUFS)"
                    : "event socket: " + e.getMessage()) + "; reading every namespace afresh");
            for (Namespace ns : byIno.values()) {
                ns.dirtyAll = true;
                changed(ns, now);
            }
        }
    }

    /** Someone changed something in {@code ns}: a pass follows once it has been quiet a moment. */
    private void changed(Namespace ns, long now) {
        if (ns.firstEventMs == 0) {
            ns.firstEventMs = now;
        }
        ns.lastEventMs = now;
        // what failed may work now, so the backoff does not hold this pass back
        ns.retryAtMs = 0;
        work.add(ns);
    }

    /** Works off the keys: namespaces that appeared, changed or went; devices to reconcile; ticks. */
    private void pass(NetnsEntry net, NetnsEntry uts) {
        long now = now();
        Set<Long> touched = host.takeTouched();
        if (!describeLater.isEmpty()) {
            touched.addAll(describeLater);
            describeLater.clear();
        }
        for (long ino : touched) {
            consider(ino, now, net, uts);
        }
        if (!touched.isEmpty()) {
            hostNamespaces = host.count();
        }
        if (!reporting.isEmpty() && now - lastTickMs >= TICK_MS) {
            lastTickMs = now;
            tick(now);
        }
        List<Namespace> due = new ArrayList<>();
        for (Namespace ns : work) {
            if (dueAt(ns) <= now) {
                due.add(ns);
            }
        }
        for (Namespace ns : due) {
            work.remove(ns);
            ns.firstEventMs = 0;
            reconcile(ns, now, net);
        }
        if (!due.isEmpty() || !reporting.isEmpty()) {
            trimAtMs = now + TRIM_AFTER_MS;
        } else if (trimAtMs != 0 && now >= trimAtMs) {
            trimAtMs = 0;
            Sys.trimNativeHeap();
        }
    }

    /** When a namespace's work is due: its retry, and its events once settled. */
    private static long dueAt(Namespace ns) {
        long at = ns.retryAtMs;
        if (ns.firstEventMs != 0) {
            at = Math.max(at, Math.min(ns.lastEventMs + QUIET_MS, ns.firstEventMs + SETTLE_MAX_MS));
        }
        return at;
    }

    /** Whether every rule's selector can be decided on names alone. */
    private boolean namesDecide() {
        for (DaemonConfig.Entry e : config.get().interfaces()) {
            if (e.needsProcessFacts()) {
                return false;
            }
        }
        return true;
    }

    /** Serves or releases a namespace after it appeared, went, or changed holders or mounts. */
    private void consider(long ino, long now, NetnsEntry net, NetnsEntry uts) {
        Namespace ns = byIno.get(ino);
        if (!host.exists(ino) && ino != host.own()) {
            describedAt.remove(ino);
            if (ns != null) {
                release(ns, false, "its last process exited and nothing mounts it");
            }
            return;
        }
        Long at = describedAt.get(ino);
        if (at != null && now - at < DESCRIBE_MS) {
            describeLater.add(ino);
            return;
        }
        int leader = host.leader(ino);
        List<String> mounts = host.mountPoints(ino);
        if (ns != null && ns.facts.mountPoints().equals(mounts) && namesDecide()
                && (ns.facts.pid() == leader || !mounts.isEmpty())) {
            // a fork or exec in a served namespace that changes nothing a rule looks at, nor its
            // label (a mounted namespace is called by its name, whoever runs in it)
            return;
        }
        NsFacts f;
        if (ns == null && namesDecide() && !selectedByName(ino, mounts)) {
            return; // no rule can select it: not worth reading its processes
        }
        f = NsFacts.describe(ino, ino == host.own(), mounts, leader, uts);
        describedAt.put(ino, now);
        boolean wanted = false;
        for (DaemonConfig.Entry e : config.get().interfaces()) {
            wanted |= e.selects(f);
        }
        if (ns == null && wanted) {
            ns = new Namespace(ino, f);
            byIno.put(ino, ns);
            name(ns, f, null);
            log.accept(f.label() + ": selected");
            work.add(ns);
        } else if (ns != null && !wanted) {
            release(ns, true, "no rule selects it any more");
        } else if (ns != null) {
            NsFacts old = ns.facts;
            ns.facts = f;
            name(ns, f, old);
        }
    }

    private boolean selectedByName(long ino, List<String> mounts) {
        NsFacts f = new NsFacts(ino, ino == host.own(), mounts, 0, null, null, null, null, null);
        for (DaemonConfig.Entry e : config.get().interfaces()) {
            if (e.selects(f)) {
                return true;
            }
        }
        return false;
    }

    /** Keeps the name index (what reports that name a namespace find) in step with its mounts. */
    private void name(Namespace ns, NsFacts now, NsFacts before) {
        if (before != null) {
            for (String n : before.names()) {
                byName.remove(n, ns);
            }
        }
        for (String n : now.names()) {
            byName.put(n, ns);
        }
    }

    /** Opens the namespace's sockets inside it, if not yet, and reconciles what the events asked for. */
    private void reconcile(Namespace ns, long now, NetnsEntry net) {
        if (!byIno.containsKey(ns.ino)) {
            return; // released meanwhile
        }
        try {
            if (ns.session == null) {
                open(ns, net);
            }
            Set<Integer> which = ns.dirtyAll ? null : new HashSet<>(ns.dirty);
            ns.dirtyAll = false;
            ns.dirty.clear();
            synchronized (ns) {
                reconciler.reconcile(ns, which);
            }
            if (ns.failures.isEmpty()) {
                if (ns.state != Namespace.State.SERVING) {
                    log.accept(ns.label() + ": serving (" + ns.devices.size() + " device(s) shaped)");
                }
                ns.served();
            } else {
                Map.Entry<String, String> f = ns.failures.entrySet().iterator().next();
                ns.failed(f.getKey() + ": " + f.getValue() + (ns.failures.size() > 1 ? " (and "
                        + (ns.failures.size() - 1) + " more device(s))" : ""), now);
                work.add(ns);
            }
        } catch (RuntimeException e) {
            String why = e.getMessage() == null ? e.toString() : e.getMessage();
            if (!why.equals(ns.reason)) {
                log.accept(ns.label() + ": " + why + "; retrying with backoff");
            }
            if (e instanceof NativeException || e instanceof io.tunshape.netlink.NetlinkException) {
                closeSockets(ns); // opened afresh next time
            }
            ns.failed(why, now);
            work.add(ns);
        }
    }

    /**
     * Opens the request socket inside the namespace, from this thread (setns there and back), and
     * gives the namespace an id here, by which its events are told apart on the one event socket.
     */
    private void open(Namespace ns, NetnsEntry net) {
        NsFacts f = ns.facts;
        Object[] opened = new Object[2];
        java.util.concurrent.Callable<Void> make = () -> {
            long here = HostNamespaces.inoOf("thread-self");
            if (here != ns.ino) {
                throw new IllegalStateException("pid " + f.pid() + " is no longer in the namespace (it is in "
                        + here + "): it will be found again through its other holders");
            }
            opened[0] = f.own() ? null : Sys.open("/proc/thread-self/ns/net", Sys.O_RDONLY | Sys.O_CLOEXEC);
            opened[1] = new Session(f.own() ? null : f.name() != null ? f.name() : f.label(), codec);
            return null;
        };
        try {
            if (f.own()) {
                make.call();
            } else {
                String path = !f.mountPoints().isEmpty() ? f.mountPoints().get(0) : "/proc/" + f.pid() + "/ns/net";
                try (Fd target = Sys.open(path, Sys.O_RDONLY | Sys.O_CLOEXEC)) {
                    net.within(target, make);
                }
            }
        } catch (IllegalStateException e) {
            closeAll(opened);
            throw e;
        } catch (Exception e) {
            closeAll(opened);
            throw e instanceof RuntimeException r ? r : new IllegalStateException(e.getMessage(), e);
        }
        Session s = (Session) opened[1];
        if (opened[0] instanceof Fd target) {
            try (target) {
                ns.nsid = ids.nsid(target);
            } catch (RuntimeException e) {
                s.close();
                throw e;
            }
            byNsid.put(ns.nsid, ns);
        }
        synchronized (ns) {
            ns.session = s;
        }
        // events before the id was known went unheard: everything is read now
        ns.dirtyAll = true;
    }

    private static void closeAll(Object[] opened) {
        for (Object o : opened) {
            if (o instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // closing what half-opened
                }
            }
        }
    }

    private void closeSockets(Namespace ns) {
        if (ns.nsid >= 0) {
            byNsid.remove(ns.nsid, ns);
            ns.nsid = -1;
        }
        ns.close();
    }

    /** Forgets a namespace: puts its devices back first when it is still there and {@code restore}. */
    private void release(Namespace ns, boolean restore, String why) {
        if (restore && config.get().restoreOnExit()) {
            reconciler.restore(ns);
        }
        closeSockets(ns);
        byIno.remove(ns.ino);
        for (String n : ns.facts.names()) {
            byName.remove(n, ns);
        }
        work.remove(ns);
        reporting.values().removeIf(n -> n == ns);
        log.accept(ns.label() + ": released (" + why + ")");
    }

    /** Ticks the controllers of devices with recent reports: deferred changes, and the fall back when reports stop. */
    private void tick(long now) {
        long stale = config.get().tuning().staleMs();
        for (Map.Entry<Namespace.Device, Namespace> e : reporting.entrySet()) {
            Namespace.Device d = e.getKey();
            Namespace ns = e.getValue();
            RateController c = d.controller;
            if (c == null || ns.devices.get(d.name) != d) {
                reporting.remove(d);
                continue;
            }
            long r;
            boolean flush;
            long age;
            synchronized (c) {
                r = c.tick(now);
                flush = c.takeFlush();
                age = c.reportAgeMs(now);
            }
            if (r > 0 && !reconciler.changeRate(ns, d, flush)) {
                ns.dirtyAll = true;
                work.add(ns);
            }
            if (age > stale + 1000) {
                reporting.remove(d);
            }
        }
    }

    /** On stop: puts back what was changed in every namespace still there, then closes everything. */
    private void shutDown() {
        boolean restore = config.get().restoreOnExit();
        for (Namespace ns : new ArrayList<>(byIno.values())) {
            if (restore && (host.exists(ns.ino) || ns.ino == host.own())) {
                try {
                    reconciler.restore(ns);
                } catch (RuntimeException e) {
                    log.accept(ns.label() + ": putting back: " + e.getMessage());
                }
            }
            closeSockets(ns);
        }
        byIno.clear();
        byName.clear();
    }

    /** On reload: every namespace is looked at again against the new rules, every served one gets a full pass. */
    void reconsiderAll() {
        submit(() -> {
            describedAt.clear();
            describeLater.addAll(host.all());
            for (Namespace ns : byIno.values()) {
                ns.dirtyAll = true;
                work.add(ns);
            }
        });
    }
}
