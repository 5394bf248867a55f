package io.tunshape.daemon;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntToLongFunction;

/**
 * The served namespaces, and every way to find one: by nsfs inode (what the host's discovery
 * sees), by name (what a report names), by sender (a report that names none: the sender's own, from
 * the pid the kernel attached), and by the id the daemon's namespace has for it (what its events
 * carry). The event loop adds and removes; the report thread and status only look. Nothing else
 * holds these maps.
 */
final class Namespaces {
    /** The warm-up's namespace name: no mounted namespace has a "/" in its name. */
    static final String WARM_UP_NETNS = "/warm-up";

    private final Map<Long, Namespace> byIno = new ConcurrentHashMap<>();
    private final Map<String, Namespace> byName = new ConcurrentHashMap<>();
    private final Map<Integer, Namespace> byNsid = new ConcurrentHashMap<>();
    /** The network namespace inode of a pid (0: none): HostNamespaces.inoOf, or a test's. */
    private final IntToLongFunction inoOfPid;

    Namespaces(IntToLongFunction inoOfPid) {
        this.inoOfPid = inoOfPid;
    }

    Namespace byIno(long ino) {
        return byIno.get(ino);
    }

    Namespace byName(String name) {
        return byName.get(name);
    }

    Namespace byNsid(int nsid) {
        return byNsid.get(nsid);
    }

    /** The namespace a report is for: the one it names (among those served, never opened by that name), or the sender's. */
    Namespace forReport(String netns, int senderPid) {
        return netns != null ? byName(netns) : byIno(inoOfPid.applyAsLong(senderPid));
    }

    boolean serves(Namespace ns) {
        return byIno.get(ns.ino) == ns;
    }

    /** Every served namespace, as of now. */
    List<Namespace> all() {
        return new ArrayList<>(byIno.values());
    }

    /** Serves {@code ns}, found by its inode and its names. */
    void add(Namespace ns) {
        byIno.put(ns.ino, ns);
        renamed(ns, null);
    }

    /** Keeps the name index in step with {@code ns}'s facts (its mounts), after they were {@code before}. */
    void renamed(Namespace ns, NsFacts before) {
        if (before != null) {
            for (String n : before.names()) {
                byName.remove(n, ns);
            }
        }
        for (String n : ns.facts.names()) {
            byName.put(n, ns);
        }
    }

    /** Its events carry {@code nsid} from now on. */
    void identified(Namespace ns, int nsid) {
        ns.nsid = nsid;
        byNsid.put(nsid, ns);
    }

    /** Its id is given up (its sockets closed). */
    void unidentified(Namespace ns) {
        if (ns.nsid >= 0) {
            byNsid.remove(ns.nsid, ns);
            ns.nsid = -1;
        }
    }

    /** No longer served: found no more. */
    void remove(Namespace ns) {
        unidentified(ns);
        byIno.remove(ns.ino, ns);
        for (String n : ns.facts.names()) {
            byName.remove(n, ns);
        }
    }

    /**
     * A private namespace found by {@code name} alone (the warm-up's, in no host's view: never
     * listed, released or put back).
     */
    void addPrivate(String name, Namespace ns) {
        byName.put(name, ns);
    }

    void removePrivate(String name, Namespace ns) {
        byName.remove(name, ns);
    }
}
