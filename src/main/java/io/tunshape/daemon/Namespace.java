package io.tunshape.daemon;

import io.tunshape.link.LinkInfo;
import io.tunshape.profile.Profile;
import io.tunshape.shape.DeviceState;
import io.tunshape.shape.Session;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One network namespace the daemon serves: its request socket (opened inside it, used from any
 * thread after; its events come on the event loop's one socket, by its {@link #nsid}), its
 * devices, and its state as status shows it. The event loop owns it; the report thread changes an
 * adaptive device's rate over {@link #session} too, and so does status reading counters: every use
 * of the session holds this object's monitor (a request and its ack must not interleave with
 * another's). Nothing else about a namespace lives anywhere else.
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

    volatile State state = State.RETRYING;
    volatile String reason = "not opened yet";
    /** Failed attempts in a row; the next waits 100 ms doubled per attempt, at most 30 s. */
    int attempts;
    long retryAtMs;
    /** What the events asked to look at: every device, or these ifindexes. */
    boolean dirtyAll = true;
    final Set<Integer> dirty = new HashSet<>();
    /** When the first and the last of the events not yet acted on came (ms; 0: none waiting). */
    long firstEventMs;
    long lastEventMs;
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

    /** The next attempt after a failure: 100 ms, doubled each time, at most 30 s. */
    void failed(String why, long nowMs) {
        state = State.RETRYING;
        reason = why;
        attempts++;
        retryAtMs = nowMs + Math.min(30_000, 100L << Math.min(attempts - 1, 9));
        dirtyAll = true;
    }

    void served() {
        state = State.SERVING;
        reason = null;
        attempts = 0;
        retryAtMs = 0;
    }

    /** Closes its socket; the caller has put back what it meant to. */
    void close() {
        synchronized (this) {
            if (session != null) {
                session.close();
                session = null;
            }
        }
    }
}
