package io.tunshape.daemon;

import io.tunshape.link.LinkInfo;
import io.tunshape.netlink.NamespaceLock;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.profile.Profile;
import io.tunshape.shape.DeviceState;
import io.tunshape.shape.Session;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One network namespace the daemon serves: its request socket (opened inside it, used from any
 * thread after; its events come on the event loop's one socket, by its {@link #nsid}), its rate
 * socket ({@link RateLink}, the report thread's), its lock held open, its devices, and its state as
 * status shows it. The event loop owns it (and {@link Namespaces} finds it); passes, putting back and
 * status reading counters use {@link #session} holding this object's monitor (a request and its ack
 * must not interleave with another's); rate changes go over {@link #rates}, which orders its own.
 */
final class Namespace {
    /** serving: sockets open, every device reconciled; retrying: the last attempt failed, {@link #reason} says why. */
    enum State { SERVING, RETRYING }

    final long ino;
    volatile NsFacts facts;
    /** The id the daemon's namespace has for it (its events carry it); -1 for the daemon's own, or not yet. */
    int nsid = -1;
    /** Opened in the namespace; null until served and after release. */
    volatile Session session;
    /**
     * Its own event socket, opened inside it, only where the kernel's one socket for every namespace
     * does not hear it ({@link NsEvents}); null otherwise. The loop's, as is {@link #eventsKey}, its epoll key.
     */
    NetlinkSocket events;
    long eventsKey;

    volatile State state = State.RETRYING;
    volatile String reason = "not opened yet";
    /** The namespace's lock, held open while served; null until served and after release. */
    volatile NamespaceLock.Keeper lock;
    /** Where rate changes go (its socket on SenderFilter.RATE_PORT where free); null until served and after release. */
    volatile RateLink rates;
    /** Failed attempts in a row (the work queue's count, for status). */
    volatile int attempts;
    /** What the events asked to look at: every device, or these ifindexes. */
    boolean dirtyAll = true;
    final Set<Integer> dirty = new HashSet<>();
    /** Shaped devices, by name (reports name them so). */
    final Map<String, Device> devices = new ConcurrentHashMap<>();
    /** Devices the last pass could not shape, with the reason. */
    final Map<String, String> failures = new ConcurrentHashMap<>();

    Namespace(long ino, NsFacts facts) {
        this.ino = ino;
        this.facts = facts;
    }

    String label() {
        return facts.label();
    }

    /** What the reconciler and the report path know of one shaped device. */
    static final class Device {
        final int index;
        final String name;
        volatile LinkInfo link;
        volatile DaemonConfig.Entry rule;
        /** As it was before the daemon first changed it: put back on exit. */
        final DeviceState before;
        /** For an adaptive rule, else null: guarded by its own monitor (report thread and loop). */
        volatile RateController controller;
        /** An adaptive device's ring, planned once at max_rate for its profile, mtu and link header. */
        volatile Ring ring;
        /** Its report-driven changes' times, for the metrics (per device). */
        final LatencyHistogram latency = new LatencyHistogram();
        /** What a rate change sends, kept by the last pass; null when not adaptive or not shaped yet. */
        volatile CompiledRate compiled;
        /** What {@link #compiled} was made for: the request at min_rate and the largest frame. */
        Object compiledFor;
        /** The controller's change the last pass planned with. */
        volatile RateController.Change planned;
        /** Its stall guard (kernel flow control only): state and counters. */
        final StallWatch.State stall = new StallWatch.State();
        /** The controller's last change sent to the kernel (guarded by the namespace's {@link RateLink}). */
        long sentSeq = -1;

        Device(LinkInfo link, DaemonConfig.Entry rule, DeviceState before) {
            this.index = link.index();
            this.name = link.name();
            this.link = link;
            this.rule = rule;
            this.before = before;
        }
    }

    record Ring(Profile profile, int mtu, int header, Long txqueuelen) {
    }

    /** The last attempt failed for {@code why}, the {@code attempts}th in a row: the next reads everything. */
    void failed(String why, int attempts) {
        state = State.RETRYING;
        reason = why;
        this.attempts = attempts;
        dirtyAll = true;
    }

    void served() {
        state = State.SERVING;
        reason = null;
        attempts = 0;
    }

    /** Closes its sockets and its lock file; the caller has put back what it meant to. */
    void close() {
        synchronized (this) {
            if (session != null) {
                session.close();
                session = null;
            }
            RateLink r = rates;
            rates = null;
            if (r != null) {
                r.close();
            }
            NamespaceLock.Keeper l = lock;
            lock = null;
            if (l != null) {
                l.close();
            }
        }
    }
}
