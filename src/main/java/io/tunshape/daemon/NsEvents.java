package io.tunshape.daemon;

import io.tunshape.netlink.Message;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.Netns;
import io.tunshape.netlink.Nl;
import io.tunshape.netlink.SenderFilter;
import io.tunshape.sys.Epoll;
import io.tunshape.sys.Errno;
import io.tunshape.sys.Fd;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;
import io.tunshape.tc.Handle;
import io.tunshape.tc.Tc;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Where the daemon hears the link and tc events of the namespaces it serves. As a rule one socket in
 * its own namespace hears them all (NETLINK_LISTEN_ALL_NSID, each namespace by the id the daemon gave
 * it): a socket subscribed in each of a thousand namespaces made every change on the host slower.
 * Whether that socket hears another namespace is checked once, when the first namespace but the
 * daemon's own is to be served ({@link #checkOnce}): in a private namespace of a short-lived thread,
 * given an id, a tc change must reach it. Where it does not, or the kernel refuses
 * NETLINK_LISTEN_ALL_NSID, the daemon says so once and falls back to a socket subscribed inside each
 * served namespace ({@link #watch}), waited on by the loop's epoll under a key of its own. The same
 * check learns whether the kernel leaves out a tc change whose sender has the socket's port id (Linux
 * before 5.15), which the socket avoids by its port id ({@link NetlinkSocket#openAllNamespaces}); that
 * is said once too. What it found is {@link #note}, which status shows.
 */
final class NsEvents implements AutoCloseable {
    static final int GROUPS = Nl.RTMGRP_LINK | Nl.RTMGRP_TC;
    /** A fault-test knob: {@code per-namespace} takes the fallback without asking the kernel. */
    static final String KNOB = "TUNSHAPE_NETNS_EVENTS";
    /** The loopback device's index in a new namespace: the check's tc changes go on its root. */
    private static final int LO = 1;

    private final NetlinkSocket all;
    private final Epoll epoll;
    private final Consumer<String> log;
    private final Map<Long, Namespace> byKey = new HashMap<>();
    private long nextKey = 1;
    private boolean perNamespace;
    private boolean checked;
    /** How served namespaces are heard, for status: "on", "on (...)" or "off (why): the fallback". */
    volatile String note = "on (not checked yet: only the daemon's own namespace is served)";
    /** Event sockets open: the one, plus one in each served namespace after a fallback. */
    volatile int sockets = 1;
    /** Whether the one socket's {@link SenderFilter} drops the rate sockets' changes. */
    private boolean filtered;
    /** What becomes of the events the daemon's own rate changes cause, for status. */
    volatile String ownChanges;

    /** Opens the socket in the calling thread's namespace; events are the caller's to wait for (epoll). */
    NsEvents(int rcvbuf, Epoll epoll, Consumer<String> log) {
        this.epoll = epoll;
        this.log = log;
        NetlinkSocket s;
        try {
            s = NetlinkSocket.openAllNamespaces(GROUPS, rcvbuf);
        } catch (NativeException e) {
            s = NetlinkSocket.open(GROUPS); // this namespace's own events still come
            checked = true;
            fallBack("NETLINK_LISTEN_ALL_NSID: " + e.getMessage());
        }
        all = s;
        try {
            SenderFilter.attach(all, SenderFilter.RATE_PORT);
            filtered = true;
            ownChanges = OWN_DROPPED;
        } catch (NativeException e) {
            ownChanges = "heard and skipped (" + e.getMessage() + ")";
            log.accept("the daemon's own rate changes wake its event loop: " + e.getMessage());
        }
    }

    private static final String OWN_DROPPED = "dropped by the kernel (the rate sockets' port id "
            + SenderFilter.RATE_PORT + ")";

    /**
     * Told of each served namespace's rate socket as it is opened, before the namespace's events count:
     * where the socket did not get {@link SenderFilter#RATE_PORT} (another process holds it there,
     * another tunshape daemon serving the same namespace, say), the one socket's filter would drop that
     * holder's changes, so it comes off for good, said once; the daemon's own events are then heard and
     * skipped by their sender, as they always are.
     */
    synchronized void rateSocket(Namespace ns, NetlinkSocket rates) {
        if (rates.portId() == SenderFilter.RATE_PORT || !filtered) {
            return;
        }
        String why = "port id " + SenderFilter.RATE_PORT + " is taken in " + ns.label()
                + ", by another tunshape daemon serving it perhaps";
        try {
            SenderFilter.detach(all);
            filtered = false;
            ownChanges = "heard and skipped (" + why + ")";
            log.accept("the daemon's own rate changes: " + ownChanges);
        } catch (NativeException e) {
            // a filter that cannot come off would silence that namespace's holder of the port id
            throw new IllegalStateException("taking the event socket's filter off (" + why + "): " + e.getMessage(), e);
        }
    }

    /** The socket in the daemon's own namespace. */
    NetlinkSocket all() {
        return all;
    }

    /** Whether each served namespace has a socket of its own ({@link #watch}), and the one socket hears only its own. */
    boolean perNamespace() {
        return perNamespace;
    }

    /**
     * Once, before the first namespace but the daemon's own is served: whether the one socket hears a
     * tc change in a namespace with an id; falls back when it does not. True when events of other
     * namespaces were read meanwhile (the caller then reads every served namespace afresh).
     */
    boolean checkOnce(NetlinkSocket ids, TcCodec codec) {
        if (checked) {
            return false;
        }
        checked = true;
        if ("per-namespace".equals(System.getenv(KNOB))) {
            fallBack(KNOB + "=per-namespace, a fault-test knob");
            return false;
        }
        try {
            Heard h = Netns.runPrivate("netns-events-check", () -> check(ids, codec));
            if (!h.other) {
                fallBack("a tc change in a namespace with an id here did not reach the socket listening in all "
                        + "namespaces (NETLINK_LISTEN_ALL_NSID)");
            } else if (!h.samePort) {
                note = "on (the kernel leaves out a tc change whose sender has the listening socket's port id, as "
                        + "Linux before 5.15 does: the socket has port id " + all.portId()
                        + ", which the kernel gives no socket on its own)";
                log.accept("namespace events " + note);
            } else {
                note = "on";
            }
            return h.others;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (Exception e) {
            note = "on (not checked: " + e.getMessage() + ")";
            log.accept("namespace events " + note);
            return false;
        }
    }

    /** What the check heard: the change of a socket with the listener's port id, of another, and other namespaces' events. */
    private record Heard(boolean samePort, boolean other, boolean others) {
    }

    /** In a private namespace: a bfifo put on lo by a socket with the listener's port id, then deleted by another. */
    private Heard check(NetlinkSocket ids, TcCodec codec) {
        try (Fd self = Sys.open("/proc/thread-self/ns/net", Sys.O_RDONLY | Sys.O_CLOEXEC);
             NetlinkSocket same = NetlinkSocket.open(0, all.portId());
             NetlinkSocket other = NetlinkSocket.open()) {
            int id = ids.nsid(self);
            boolean[] others = new boolean[1];
            new TcClient(same, codec).send(codec.bfifo(TcClient.ADD, LO, Handle.of(0x7, 0), Handle.ROOT, 3000));
            boolean samePort = heard(id, others);
            new TcClient(other, codec).send(TcCodec.delete(Tc.RTM_DELQDISC, LO, Handle.UNSPEC, Handle.ROOT));
            boolean heardOther = heard(id, others);
            return new Heard(samePort, heardOther, others[0]);
        }
    }

    /**
     * Whether a tc message of namespace {@code id} waits on the socket (the kernel queues a change's
     * notification before it acks the change, so nothing is waited for); {@code others[0]} is set
     * when anything else was read.
     */
    private boolean heard(int id, boolean[] others) {
        boolean heard = false;
        int[] nsid = new int[1];
        while (true) {
            List<Message> ms;
            try {
                ms = all.receiveEventsNow(nsid);
            } catch (NativeException e) {
                if (e.errno() != Errno.ENOBUFS) {
                    throw e;
                }
                others[0] = true; // an overrun: what was lost is read afresh
                continue;
            } catch (io.tunshape.netlink.NetlinkException e) {
                others[0] = true; // a datagram cut short
                continue;
            }
            if (ms == null) {
                return heard;
            }
            boolean tc = !ms.isEmpty() && !io.tunshape.link.LinkClient.isLinkMessage(ms.get(0).type());
            if (nsid[0] == id && tc) {
                heard = true;
            } else if (nsid[0] != id) {
                others[0] = true;
            }
        }
    }

    private void fallBack(String why) {
        perNamespace = true;
        note = "off (" + why + "): a socket in each served namespace instead";
        log.accept("namespace events " + note);
    }

    /** After a fallback: waits on {@code s}, opened inside {@code ns} and subscribed to {@link #GROUPS}, for its events. */
    void watch(Namespace ns, NetlinkSocket s) {
        RateLink rates = ns.rates;
        if (rates != null && rates.portId() == SenderFilter.RATE_PORT) {
            try {
                SenderFilter.attach(s, SenderFilter.RATE_PORT); // only this namespace is heard here
            } catch (NativeException e) {
                log.accept(ns.label() + ": its event socket hears the daemon's own rate changes: " + e.getMessage());
            }
        }
        long key = nextKey++;
        ns.events = s;
        ns.eventsKey = key;
        byKey.put(key, ns);
        epoll.add(s.fd(), Epoll.EPOLLIN, key);
        sockets = 1 + byKey.size();
    }

    /** Stops waiting on the namespace's own socket, if it has one, and closes it. */
    void unwatch(Namespace ns) {
        NetlinkSocket s = ns.events;
        if (s == null) {
            return;
        }
        byKey.remove(ns.eventsKey);
        epoll.remove(s.fd());
        s.close();
        ns.events = null;
        sockets = 1 + byKey.size();
    }

    /** The namespace whose own socket has epoll key {@code key}, or null (released meanwhile). */
    Namespace byKey(long key) {
        return byKey.get(key);
    }

    @Override
    public void close() {
        for (Namespace ns : List.copyOf(byKey.values())) {
            unwatch(ns);
        }
        all.close();
    }
}
