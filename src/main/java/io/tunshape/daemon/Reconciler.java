package io.tunshape.daemon;

import io.tunshape.link.LinkInfo;
import io.tunshape.link.TunFlags;
import io.tunshape.netlink.NamespaceLock;
import io.tunshape.profile.Planner;
import io.tunshape.profile.Profile;
import io.tunshape.profile.ProfileLoader;
import io.tunshape.profile.ShapingRequest;
import io.tunshape.shape.DeviceState;
import io.tunshape.shape.Result;
import io.tunshape.shape.Session;
import io.tunshape.shape.Shaper;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.Psched;
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
 * Runs passes: brings one namespace's devices to what the rules ask (the path of a link event, after
 * the event loop turned it into a key), compiles each adaptive device's rate change for the report
 * path ({@link CompiledRate}), and puts things back on exit. Stateless apart from the profiles of
 * the running configuration: a namespace's state is in its {@link Namespace}.
 */
final class Reconciler {
    private final Supplier<DaemonConfig> config;
    private final Planner planner;
    private final Psched psched;
    private final Consumer<String> log;
    /** Profiles loaded for the running configuration, by name or file; emptied on reload. */
    private final Map<String, Profile> profiles = new ConcurrentHashMap<>();

    Reconciler(Supplier<DaemonConfig> config, Planner planner, Psched psched, Consumer<String> log) {
        this.config = config;
        this.planner = planner;
        this.psched = psched;
        this.log = log;
    }

    /**
     * Shapes one device in a namespace no other process sees (the warm-up's) and compiles its rate
     * change: no lock, no failures kept.
     */
    void shapeAlone(Namespace ns, Namespace.Device d) {
        ShapingRequest r = request(d);
        ns.session.apply(List.of(d.name), r, planner, false);
        compile(ns, d, r);
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
     * throws, and the loop retries with backoff. The report thread's rate changes go on meanwhile.
     */
    void reconcile(Namespace ns, Set<Integer> which) {
        NamespaceLock.Keeper lock = ns.lock;
        lock.enterOrBusy("tunshape daemon");
        try {
            reconcileLocked(ns, which);
        } finally {
            lock.exit();
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
            if (d != null && d.index == l.index() && d.stall.stalled) {
                continue; // the stall guard holds it: the pass after the reader reads again shapes it
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
        applyGroups(ns, session, groups);
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

    /** Applies each group of devices that get the same request together; a group that fails, device by device. */
    private void applyGroups(Namespace ns, Session session, Map<ShapingRequest, List<Namespace.Device>> groups) {
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
    }

    /**
     * Records a device shaped by a pass and says what happened. Who wins when someone changes a
     * device the daemon manages (by hand, with tc, or with tunshape apply): the daemon's
     * configuration, at its next pass, and the log says so; to keep a change, change the
     * configuration (or leave the device out of it) and reload.
     */
    private void shaped(Namespace ns, Namespace.Device d, ShapingRequest r, Result res) {
        boolean managed = ns.devices.get(d.name) == d;
        boolean resumed = d.stall.resuming; // StallWatch said so: no second line
        d.stall.resuming = false;
        compile(ns, d, r);
        ns.devices.put(d.name, d);
        for (String w : res.warnings()) {
            if (w.contains("incomplete tunshape tree")) {
                log.accept(ns.label() + ": " + w);
            }
        }
        if (resumed) {
            ns.failures.remove(d.name);
        } else if (managed && res.changed()) {
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
        RateController.Change planned = c.current();
        d.planned = planned;
        long bps = planned.bps();
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
     * Keeps what {@code d}'s rate changes need, now shaped with {@code r} (compiled again only when
     * its request or frame changed), and sends its controller's latest rate if a report's change
     * came while the pass planned with an older one.
     */
    void compile(Namespace ns, Namespace.Device d, ShapingRequest r) {
        RateController c = d.controller;
        if (c == null) {
            d.compiled = null;
            return;
        }
        LinkInfo l = d.link;
        Profile p = profile(d.rule.profile());
        io.tunshape.profile.Device dev = new io.tunshape.profile.Device(l.name(), l.mtu(), l.linkHeader(),
                l.txqueuelen());
        Object key = java.util.List.of(r.asHtb(p.adaptive().minRate(), r.txqueuelen()), dev.maxFrame(), l.index());
        if (d.compiled == null || !key.equals(d.compiledFor)) {
            if (!(planner.plan(r, dev, false).qdisc() instanceof HtbSpec planned)) {
                d.compiled = null;
                return;
            }
            d.compiled = CompiledRate.compile(l.index(), r, planned, dev.maxFrame(), psched,
                    bps -> (HtbSpec) planner.plan(r.asHtb(Rate.ofBits(bps), r.txqueuelen()), dev, false).qdisc(),
                    p.adaptive().minRate().bitsPerSecond(), p.adaptive().maxRate().bitsPerSecond());
            d.compiledFor = key;
        }
        RateLink link = ns.rates;
        RateController.Change planned = d.planned;
        if (link != null && planned != null) {
            link.settled(d, planned, c);
        }
    }

    /** Puts back what the daemon changed in a namespace that is still there (on exit, or when no rule selects it any more). */
    void restore(Namespace ns) {
        synchronized (ns) {
            if (ns.session == null || ns.devices.isEmpty()) {
                return;
            }
            NamespaceLock.Keeper lock = ns.lock;
            try {
                lock.enter(java.time.Duration.ofSeconds(5), "tunshape daemon (putting back)");
            } catch (RuntimeException x) {
                log.accept(ns.label() + ": putting back: " + x.getMessage());
                return;
            }
            try {
                restoreLocked(ns);
            } catch (RuntimeException x) {
                log.accept(ns.label() + ": putting back: " + x.getMessage());
            } finally {
                lock.exit();
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
        String path = f.path();
        long now = System.nanoTime() / 1_000_000;
        Map<String, Integer> flags = TunFlags.ofLinks(path, shown.stream().map(Session.Shown::link).toList());
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
                synchronized (c) { // one moment's figures
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
                    s.link().txDropped(), path, d.latency, StallWatch.shown(d.stall, now),
                    flags.getOrDefault(d.name, -1)));
        }
        return out;
    }
}
