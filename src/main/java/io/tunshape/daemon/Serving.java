package io.tunshape.daemon;

import io.tunshape.netlink.NamespaceLock;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.NetnsEntry;
import io.tunshape.netlink.SenderFilter;
import io.tunshape.shape.Session;
import io.tunshape.sys.Fd;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;
import io.tunshape.tc.TcCodec;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Which namespaces are served, and their passes: serves or releases a namespace the host's
 * discovery saw appear, change or go ({@link #consider}), opens its sockets inside it, and works off
 * the namespaces queued ({@link #workOff}): a pass each ({@link Reconciler#reconcile}), a failed one
 * retried with backoff ({@link WorkQueue}) and its reason in status. On the event loop's thread.
 */
final class Serving {
    /** A namespace is described again (hostname, command) at most this often, however busy it is. */
    static final int DESCRIBE_MS = 250;

    /** One namespace's pass: null when it served every device, else why not (it is retried). */
    interface Pass {
        String run(Namespace ns);
    }

    private final Supplier<DaemonConfig> config;
    private final Reconciler reconciler;
    private final Namespaces namespaces;
    private final WorkQueue<Namespace> queue;
    private final HostNamespaces host;
    private final ReportPath reports;
    private final TcCodec codec;
    private final Consumer<String> log;
    private final StallWatch stalls;
    /** When each namespace was last described, so a busy one is not re-read on every event. */
    private final Map<Long, Long> describedAt = new HashMap<>();
    /** Namespaces to describe again once {@link #DESCRIBE_MS} has passed. */
    final Set<Long> describeLater = new HashSet<>();
    /** Opened by the loop: asks ids of this namespace; enters namespaces; reads their hostnames. */
    private NetlinkSocket ids;
    private NetnsEntry net;
    private NetnsEntry uts;
    private NsEvents events;

    Serving(Supplier<DaemonConfig> config, Reconciler reconciler, Namespaces namespaces, WorkQueue<Namespace> queue,
            HostNamespaces host, ReportPath reports, TcCodec codec, Consumer<String> log, StallWatch stalls) {
        this.stalls = stalls;
        this.config = config;
        this.reconciler = reconciler;
        this.namespaces = namespaces;
        this.queue = queue;
        this.host = host;
        this.reports = reports;
        this.codec = codec;
        this.log = log;
    }

    /** The loop's sockets and namespace entries, opened when it starts. */
    void use(NetlinkSocket ids, NetnsEntry net, NetnsEntry uts, NsEvents events) {
        this.events = events;
        this.ids = ids;
        this.net = net;
        this.uts = uts;
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
    void consider(long ino, long now) {
        Namespace ns = namespaces.byIno(ino);
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
        if (ns == null && namesDecide() && !selected(new NsFacts(ino, ino == host.own(), mounts, 0, null, null, null,
                null, null))) {
            return; // no rule can select it: not worth reading its processes
        }
        NsFacts f = NsFacts.describe(ino, ino == host.own(), mounts, leader, uts);
        describedAt.put(ino, now);
        boolean wanted = selected(f);
        if (ns == null && wanted) {
            ns = new Namespace(ino, f);
            namespaces.add(ns);
            log.accept(f.label() + ": selected");
            queue.add(ns);
        } else if (ns != null && !wanted) {
            release(ns, true, "no rule selects it any more");
        } else if (ns != null) {
            NsFacts old = ns.facts;
            ns.facts = f;
            namespaces.renamed(ns, old);
        }
    }

    private boolean selected(NsFacts f) {
        for (DaemonConfig.Entry e : config.get().interfaces()) {
            if (e.selects(f)) {
                return true;
            }
        }
        return false;
    }

    /** Works off the namespaces due: a pass each. */
    void workOff() {
        runDue(queue, namespaces, this::pass, log);
    }

    /**
     * Runs {@code pass} for each namespace due in {@code queue} and still served: what served every
     * device is forgotten (its backoff reset), what failed is queued again after its backoff.
     */
    static void runDue(WorkQueue<Namespace> queue, Namespaces namespaces, Pass pass, Consumer<String> log) {
        for (Namespace ns : queue.takeDue()) {
            if (!namespaces.serves(ns)) {
                queue.remove(ns); // released meanwhile
                continue;
            }
            String why = pass.run(ns);
            if (why == null) {
                queue.forget(ns);
                if (ns.state != Namespace.State.SERVING) {
                    log.accept(ns.label() + ": serving (" + ns.devices.size() + " device(s) shaped)");
                }
                ns.served();
            } else {
                queue.addRateLimited(ns);
                ns.failed(why, queue.failures(ns));
            }
        }
    }

    /** Opens the namespace's sockets inside it, if not yet, and reconciles what the events asked for. */
    private String pass(Namespace ns) {
        try {
            if (ns.session == null) {
                open(ns);
            }
            Set<Integer> which = ns.dirtyAll ? null : new HashSet<>(ns.dirty);
            ns.dirtyAll = false;
            ns.dirty.clear();
            synchronized (ns) {
                reconciler.reconcile(ns, which);
            }
            stalls.passed(ns, which);
            if (ns.failures.isEmpty()) {
                return null;
            }
            Map.Entry<String, String> f = ns.failures.entrySet().iterator().next();
            return f.getKey() + ": " + f.getValue() + (ns.failures.size() > 1 ? " (and "
                    + (ns.failures.size() - 1) + " more device(s))" : "");
        } catch (RuntimeException e) {
            String why = e.getMessage() == null ? e.toString() : e.getMessage();
            if (!why.equals(ns.reason)) {
                log.accept(ns.label() + ": " + why + "; retrying with backoff");
            }
            if (e instanceof NativeException || e instanceof io.tunshape.netlink.NetlinkException) {
                closeSockets(ns); // opened afresh next time
            }
            return why;
        }
    }

    /**
     * Opens the request socket and the rate socket inside the namespace, from this thread (setns
     * there and back), its lock file, and gives the namespace an id here, by which its events are
     * told apart on the one event socket; or, where that socket does not hear other namespaces
     * ({@link NsEvents}, checked before the first), opens an event socket inside it too.
     */
    private void open(Namespace ns) {
        NsFacts f = ns.facts;
        if (!f.own() && events.checkOnce(ids, codec)) {
            for (Namespace other : namespaces.all()) { // the check read their events: everything afresh
                other.dirtyAll = true;
                queue.changed(other);
            }
        }
        boolean ownEvents = events.perNamespace() && !f.own();
        Object[] opened = new Object[4];
        java.util.concurrent.Callable<Void> make = () -> {
            long here = HostNamespaces.inoOf("thread-self");
            if (here != ns.ino) {
                throw new IllegalStateException("pid " + f.pid() + " is no longer in the namespace (it is in "
                        + here + "): it will be found again through its other holders");
            }
            opened[0] = f.own() ? null : Sys.open("/proc/thread-self/ns/net", Sys.O_RDONLY | Sys.O_CLOEXEC);
            opened[1] = new Session(f.own() ? null : f.name() != null ? f.name() : f.label(), codec);
            opened[2] = rateSocket();
            opened[3] = ownEvents ? NetlinkSocket.open(NsEvents.GROUPS) : null;
            return null;
        };
        try {
            if (f.own()) {
                make.call();
            } else {
                String path = f.path();
                try (Fd target = Sys.open(path, Sys.O_RDONLY | Sys.O_CLOEXEC)) {
                    net.within(target, make);
                }
            }
            events.rateSocket(ns, (NetlinkSocket) opened[2]);
            if (opened[0] instanceof Fd target) {
                try (target) {
                    namespaces.identified(ns, ids.nsid(target));
                }
            }
            NamespaceLock.Keeper lock = NamespaceLock.keeper(ns.ino);
            synchronized (ns) {
                ns.lock = lock;
                ns.session = (Session) opened[1];
                ns.rates = new RateLink((NetlinkSocket) opened[2], codec, lock);
            }
            if (opened[3] != null) {
                events.watch(ns, (NetlinkSocket) opened[3]);
            }
        } catch (Exception e) {
            closeAll(opened);
            namespaces.unidentified(ns);
            throw e instanceof RuntimeException r ? r : new IllegalStateException(e.getMessage(), e);
        }
        // events before the id was known went unheard: everything is read now
        ns.dirtyAll = true;
    }

    /**
     * A served namespace's socket for rate changes, on {@link SenderFilter#RATE_PORT} when that is
     * free there (the event sockets then drop what its changes cause), else where the kernel puts it.
     * Every served namespace has one, adaptive or not, so that no other socket there has that port id.
     */
    private static NetlinkSocket rateSocket() {
        try {
            return NetlinkSocket.open(0, SenderFilter.RATE_PORT);
        } catch (NativeException e) {
            if (e.errno() != io.tunshape.sys.Errno.EADDRINUSE) {
                throw e;
            }
            return NetlinkSocket.open();
        }
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
        events.unwatch(ns);
        namespaces.unidentified(ns);
        ns.close();
    }

    /** Forgets a namespace: puts its devices back first when it is still there and {@code restore}. */
    private void release(Namespace ns, boolean restore, String why) {
        if (restore && config.get().restoreOnExit()) {
            reconciler.restore(ns);
        } else if (restore) {
            unstall(ns);
        }
        namespaces.remove(ns);
        closeSockets(ns);
        queue.remove(ns);
        reports.forget(ns);
        log.accept(ns.label() + ": released (" + why + ")");
    }

    /** On stop: puts back what was changed in every namespace still there, then closes everything. */
    void shutDown() {
        boolean restore = config.get().restoreOnExit();
        for (Namespace ns : namespaces.all()) {
            if (!restore && (host.exists(ns.ino) || ns.ino == host.own())) {
                unstall(ns);
            } else if (restore && (host.exists(ns.ino) || ns.ino == host.own())) {
                try {
                    reconciler.restore(ns);
                } catch (RuntimeException e) {
                    log.accept(ns.label() + ": putting back: " + e.getMessage());
                }
            }
            namespaces.remove(ns);
            closeSockets(ns);
        }
    }

    /**
     * Leaving a namespace whose devices keep the daemon's plan (restore_on_exit: false): a device the
     * stall guard holds gets its plan back, or its stall qdisc would drop everything for good.
     */
    private void unstall(Namespace ns) {
        Set<Integer> held = new HashSet<>();
        for (Namespace.Device d : ns.devices.values()) {
            if (d.stall.stalled) {
                d.stall.stalled = false;
                d.stall.resuming = true;
                held.add(d.index);
            }
        }
        if (held.isEmpty() || ns.session == null) {
            return;
        }
        try {
            synchronized (ns) {
                reconciler.reconcile(ns, held);
            }
            log.accept(ns.label() + ": put the plan back on " + held.size() + " stalled device(s) before leaving");
        } catch (RuntimeException e) {
            log.accept(ns.label() + ": putting the plan back on stalled device(s): " + e.getMessage());
        }
    }

    /** On reload: every namespace is looked at again against the new rules, every served one gets a full pass. */
    void reconsiderAll() {
        describedAt.clear();
        describeLater.addAll(host.all());
        for (Namespace ns : namespaces.all()) {
            ns.dirtyAll = true;
            queue.add(ns);
        }
    }
}
