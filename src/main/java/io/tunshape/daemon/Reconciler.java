package io.tunshape.daemon;

import io.tunshape.link.LinkInfo;
import io.tunshape.netlink.NamespaceLock;
import io.tunshape.profile.Planner;
import io.tunshape.profile.Profile;
import io.tunshape.profile.ProfileLoader;
import io.tunshape.profile.ShapingRequest;
import io.tunshape.shape.DeviceState;
import io.tunshape.shape.Result;
import io.tunshape.shape.Session;
import io.tunshape.shape.Shaper;
import io.tunshape.tc.Rate;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Brings one namespace's devices to what the rules ask (the path of a link event, after the event
 * loop turned it into a key), sets an adaptive device's new rate (the path of a report, after
 * {@link ReportPath} found the device), and puts things back on exit. Stateless apart from the
 * profiles of the running configuration: a namespace's state is in its {@link Namespace}.
 */
final class Reconciler {
    private final Supplier<DaemonConfig> config;
    private final Planner planner;
    private final Consumer<String> log;
    /** Profiles loaded for the running configuration, by name or file; emptied on reload. */
    private final Map<String, Profile> profiles = new ConcurrentHashMap<>();

    Reconciler(Supplier<DaemonConfig> config, Planner planner, Consumer<String> log) {
        this.config = config;
        this.planner = planner;
        this.log = log;
    }

    Planner planner() {
        return planner;
    }

    void forgetProfiles() {
        profiles.clear();
    }

    /** A profile of the running configuration, by name or file: loaded once, until a reload. */
    Profile profile(String nameOrFile) {
        return profiles.computeIfAbsent(nameOrFile,
                n -> new ProfileLoader(ProfileLoader.defaultPath(), planner).load(n));
    }

    /**
     * A controller for an adaptive profile. In latency mode the qdisc holds the latency at the rate,
     * and a fall deeper than what it holds can leave within twice that empties it.
     */
    static RateController controllerFor(Profile p, RateController.Tuning tuning) {
        ShapingRequest r = p.request();
        return new RateController(p.link().rate().bitsPerSecond(), p.adaptive().minRate().bitsPerSecond(),
                p.adaptive().maxRate().bitsPerSecond(), p.adaptive().headroom(), tuning,
                r.latency() == null ? 0 : r.latency().micros() / 1000);
    }

    /** The first rule that selects this namespace and this tun/tap device, or null. */
    DaemonConfig.Entry ruleFor(NsFacts ns, LinkInfo l) {
        if (!l.isTunTap()) {
            return null;
        }
        for (DaemonConfig.Entry e : config.get().interfaces()) {
            if (e.selects(ns) && DaemonConfig.Entry.globMatches(e.match(), l.name())) {
                return e;
            }
        }
        return null;
    }

    /**
     * Applies the matching profile to each device of the namespace ({@code which} ifindexes, or all
     * when null); devices that get the same request are applied together, from one snapshot.
     * Records what it could not do in {@code ns.failures}; throws when the namespace cannot be read.
     * The caller holds the namespace's monitor. Takes the namespace's lock, shared with apply and
     * clear, without waiting (the loop serves every namespace): held by another tunshape process, it
     * throws, and the loop retries with backoff.
     */
    void reconcile(Namespace ns, Set<Integer> which) {
        try (NamespaceLock lock = NamespaceLock.orBusy(NamespaceLock.tryExclusive(ns.ino, "tunshape daemon"),
                ns.ino)) {
            reconcileLocked(ns, which);
        }
    }

    private void reconcileLocked(Namespace ns, Set<Integer> which) {
        Session session = ns.session;
        Shaper sh = session.shaper();
        Shaper.Snapshot snap = sh.snapshot();
        Set<Integer> present = new HashSet<>();
        Map<ShapingRequest, List<Namespace.Device>> groups = new LinkedHashMap<>();
        NsFacts facts = ns.facts;
        for (LinkInfo l : snap.links()) {
            present.add(l.index());
            if (which != null && !which.contains(l.index())) {
                continue;
            }
            DaemonConfig.Entry e = ruleFor(facts, l);
            Namespace.Device d = ns.devices.get(l.name());
            if (e == null) {
                if (d != null && d.index == l.index()) {
                    ns.devices.remove(l.name()); // no rule selects it any more (a reload): left as it is
                }
                ns.failures.remove(l.name());
                continue;
            }
            if (d == null || d.index != l.index()) {
                d = new Namespace.Device(l, e, sh.state(snap, l));
            }
            d.link = l;
            d.rule = e;
            try {
                groups.computeIfAbsent(request(d), k -> new ArrayList<>()).add(d);
            } catch (RuntimeException x) {
                fail(ns, l.name(), x);
            }
        }
        for (Map.Entry<ShapingRequest, List<Namespace.Device>> g : groups.entrySet()) {
            List<String> names = new ArrayList<>();
            for (Namespace.Device d : g.getValue()) {
                names.add(d.name);
            }
            try {
                // Session.apply: it reads the tree back after the change and repairs what differs
                List<Result> r = session.apply(names, g.getKey(), planner, false);
                for (int i = 0; i < r.size(); i++) {
                    shaped(ns, g.getValue().get(i), g.getKey(), r.get(i));
                }
            } catch (RuntimeException x) {
                // one device refused: the others were put back; try them one by one
                for (Namespace.Device d : g.getValue()) {
                    try {
                        shaped(ns, d, g.getKey(), session.apply(List.of(d.name), g.getKey(), planner, false).get(0));
                    } catch (RuntimeException y) {
                        fail(ns, d.name, y);
                    }
                }
            }
        }
        // devices that went away: forget them (a re-created one is new)
        ns.devices.values().removeIf(d -> !present.contains(d.index));
        ns.failures.keySet().removeIf(n -> {
            for (LinkInfo l : snap.links()) {
                if (l.name().equals(n)) {
                    return false;
                }
            }
            return true;
        });
    }

    /**
     * Records a device shaped by a pass and says what happened. Who wins when someone changes a
     * device the daemon manages (by hand, with tc, or with tunshape apply): the daemon's
     * configuration, at its next pass, and the log says so; to keep a change, change the
     * configuration (or leave the device out of it) and reload.
     */
    private void shaped(Namespace ns, Namespace.Device d, ShapingRequest r, Result res) {
        boolean managed = ns.devices.get(d.name) == d;
        ns.devices.put(d.name, d);
        for (String w : res.warnings()) {
            if (w.contains("incomplete tunshape tree")) {
                log.accept(ns.label() + ": " + w);
            }
        }
        if (managed && res.changed()) {
            log.accept(ns.label() + ": " + d.name + ": differed from the daemon's plan (changed by hand, by tc or by "
                    + "another tunshape apply?); the daemon's configuration wins: shaped again with " + d.rule.profile()
                    + " at " + r.rate());
        } else if (ns.failures.remove(d.name) != null || res.changed()) {
            log.accept(ns.label() + ": " + d.name + ": shaped with " + d.rule.profile() + " at " + r.rate());
        }
    }

    private void fail(Namespace ns, String dev, RuntimeException x) {
        String why = x.getMessage() == null ? x.toString() : x.getMessage();
        if (!why.equals(ns.failures.put(dev, why))) {
            log.accept(ns.label() + ": " + dev + ": " + why + "; retrying");
        }
    }

    /** What a device should get now: its profile, at its controller's rate when adaptive. */
    ShapingRequest request(Namespace.Device d) {
        DaemonConfig.Entry e = d.rule;
        Profile p = profile(e.profile());
        ShapingRequest r = p.request();
        if (!e.adaptive() || p.adaptive() == null) {
            d.controller = null;
            return r;
        }
        RateController c = d.controller;
        if (c == null) {
            c = controllerFor(p, config.get().tuning());
            d.controller = c;
        }
        long bps;
        synchronized (c) {
            bps = c.currentBps();
        }
        // tun's ring keeps one size, a second of frames at max_rate: resizing it at each rate change
        // would throw away what it holds, uncounted (the kernel frees the excess), and after a
        // sudden fall in capacity it holds what the shaper let through until the next report (the
        // ring term of the control then drains it)
        Long txq = r.txqueuelen();
        LinkInfo l = d.link;
        if (txq == null && r.deriveTxqueuelen()) {
            Namespace.Ring ring = d.ring;
            if (ring == null || ring.profile() != p || ring.mtu() != l.mtu() || ring.header() != l.linkHeader()) {
                // once, not at each change: a plan is some tens of kilobytes of garbage
                ShapingRequest atMax = r.asHtb(p.adaptive().maxRate(), null);
                ring = new Namespace.Ring(p, l.mtu(), l.linkHeader(), planner.plan(atMax, new io.tunshape.profile.Device(
                        l.name(), l.mtu(), l.linkHeader(), l.txqueuelen()), false).txqueuelen());
                d.ring = ring;
            }
            txq = ring.txqueuelen();
        }
        // htb: a class change does not refill the bucket, so adapting leaks no burst
        return r.asHtb(Rate.ofBits(bps), txq);
    }

    /**
     * Sets an adaptive device's new rate at once (from the report thread, or the loop's tick),
     * emptying its queue first when {@code flush}. False when the namespace has no session now: the
     * caller asks for a pass.
     */
    boolean changeRate(Namespace ns, Namespace.Device d, boolean flush) {
        synchronized (ns) {
            Session s = ns.session;
            if (s == null) {
                return false;
            }
            // the namespace's lock, without waiting: while an apply or clear holds it, a pass follows
            NamespaceLock lock = NamespaceLock.tryExclusive(ns.ino, null);
            if (lock == null) {
                return false;
            }
            try (lock) {
                return changeRateLocked(ns, d, flush, s);
            }
        }
    }

    private boolean changeRateLocked(Namespace ns, Namespace.Device d, boolean flush, Session s) {
        LinkInfo l = d.link;
        ShapingRequest req = request(d);
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
            s.apply(List.of(d.name), req, planner, false);
        } catch (RuntimeException x) {
            log.accept(ns.label() + ": " + d.name + ": " + x.getMessage());
        }
        return true;
    }

    /** Puts back what the daemon changed in a namespace that is still there (on exit, or when no rule selects it any more). */
    void restore(Namespace ns) {
        synchronized (ns) {
            if (ns.session == null || ns.devices.isEmpty()) {
                return;
            }
            try (NamespaceLock lock = NamespaceLock.exclusive(ns.ino, java.time.Duration.ofSeconds(5),
                    "tunshape daemon (putting back)")) {
                restoreLocked(ns);
            } catch (RuntimeException x) {
                log.accept(ns.label() + ": putting back: " + x.getMessage());
            }
        }
    }

    private void restoreLocked(Namespace ns) {
        Shaper sh = ns.session.shaper();
        Shaper.Snapshot snap = sh.snapshot();
        Map<Integer, LinkInfo> byIndex = new HashMap<>();
        for (LinkInfo l : snap.links()) {
            byIndex.put(l.index(), l);
        }
        int restored = 0;
        for (Namespace.Device d : ns.devices.values()) {
            LinkInfo l = byIndex.get(d.index);
            DeviceState b = d.before;
            if (l == null || !l.name().equals(b.link().name())) {
                continue; // gone, or another device now: nothing of ours to put back
            }
            try {
                for (Shaper.Step s : sh.restoreSteps(b, sh.state(snap, l))) {
                    sh.send(s);
                }
                restored++;
            } catch (RuntimeException x) {
                log.accept(ns.label() + ": putting back " + l.name() + ": " + x.getMessage());
            }
        }
        log.accept(ns.label() + ": put back " + restored + " device(s) as they were");
    }

    /** Each shaped device's status, its counters read from the kernel now. */
    List<Daemon.Status> status(Namespace ns) {
        List<Daemon.Status> out = new ArrayList<>();
        List<Session.Shown> shown;
        synchronized (ns) {
            Session s = ns.session;
            if (s == null || ns.devices.isEmpty()) {
                return out;
            }
            shown = s.show(List.of());
        }
        NsFacts f = ns.facts;
        String where = f.own() ? null : f.name() != null ? f.name() : f.label();
        String path = f.own() ? null : !f.mountPoints().isEmpty() ? f.mountPoints().get(0) : "/proc/" + f.pid() + "/ns/net";
        long now = System.nanoTime() / 1_000_000;
        for (Session.Shown s : shown) {
            Namespace.Device d = ns.devices.get(s.link().name());
            if (d == null) {
                continue;
            }
            RateController c = d.controller;
            long rate = -1;
            long cap = -1;
            long age = -1;
            long changes = 0;
            long flushes = 0;
            if (c != null) {
                synchronized (c) {
                    rate = c.currentBps();
                    cap = c.estimateBps();
                    age = c.reportAgeMs(now);
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
            out.add(new Daemon.Status(d.name, where, d.rule.profile(), rate, cap, age, changes, flushes, backlog, drops,
                    s.link().txDropped(), path, d.latency));
        }
        return out;
    }
}
