package io.tunshape.shape;

import io.tunshape.link.LinkClient;
import io.tunshape.link.LinkInfo;
import io.tunshape.link.TunFlags;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.profile.Device;
import io.tunshape.profile.Plan;
import io.tunshape.profile.PlanException;
import io.tunshape.profile.Planner;
import io.tunshape.profile.ShapingRequest;
import io.tunshape.sys.Bpf;
import io.tunshape.tc.FlowProgram;
import io.tunshape.tc.FlowQueues;
import io.tunshape.tc.Handle;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import io.tunshape.tc.TreeLayout;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * apply, clear and show for one namespace, over one netlink socket opened by the calling thread
 * (so the caller runs it inside the namespace).
 */
public final class Session implements AutoCloseable {
    private final NetlinkSocket sock;
    private final Shaper shaper;
    private final String netns;

    public Session(String netns, TcCodec codec) {
        this(netns, codec, Shaper.KERNEL);
    }

    /** With the loader of flow programs given (tests: a program the verifier refuses). */
    public Session(String netns, TcCodec codec, Shaper.ProgramLoader loader) {
        this.sock = NetlinkSocket.open();
        this.netns = netns;
        this.shaper = new Shaper(new TcClient(sock, codec), new LinkClient(sock), loader);
    }

    /** This session's netlink port id: the events its own changes cause carry it as their sender. */
    public int portId() {
        return sock.portId();
    }

    /** Requests sent so far (dumps included): an idempotent second apply sends only its two dumps. */
    public long requestsSent() {
        return sock.requestsSent();
    }

    public Shaper shaper() {
        return shaper;
    }

    /**
     * One line per device: its link, its root qdisc as people see it, and what an incomplete
     * tunshape tree lacks ({@link TreeCheck}; empty when complete).
     */
    public record Shown(LinkInfo link, QdiscView qdisc, String netns, String defaultKind,
                        io.tunshape.tc.Stats defaultStats, List<String> broken) {
    }

    /**
     * Resolves names and globs to links, in the order given, each once. A glob matches tun/tap
     * devices only; a plain name may be any device.
     */
    public static List<LinkInfo> resolve(List<LinkInfo> all, List<String> names, String netns) {
        Map<Integer, LinkInfo> out = new LinkedHashMap<>();
        String where = netns == null ? "this network namespace" : "network namespace '" + netns + "'";
        for (String n : names) {
            if (isGlob(n)) {
                Pattern m = globPattern(n);
                boolean any = false;
                for (LinkInfo l : all) {
                    if (l.isTunTap() && m.matcher(l.name()).matches()) {
                        out.putIfAbsent(l.index(), l);
                        any = true;
                    }
                }
                if (!any) {
                    throw new NoSuchInterfaceException("no tun/tap device matches '" + n + "' in " + where);
                }
            } else {
                LinkInfo found = null;
                for (LinkInfo l : all) {
                    if (l.name().equals(n)) {
                        found = l;
                    }
                }
                if (found == null) {
                    throw new NoSuchInterfaceException("no interface '" + n + "' in " + where);
                }
                out.putIfAbsent(found.index(), found);
            }
        }
        return new ArrayList<>(out.values());
    }

    /** A shell glob over interface names: *, ? and [...] (with ! or ^ to negate). */
    public static Pattern globPattern(String glob) {
        StringBuilder re = new StringBuilder();
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            if (c == '*') {
                re.append(".*");
            } else if (c == '?') {
                re.append('.');
            } else if (c == '[') {
                int end = glob.indexOf(']', i + 2);
                if (end < 0) {
                    re.append("\\[");
                    continue;
                }
                String set = glob.substring(i + 1, end);
                if (set.startsWith("!") || set.startsWith("^")) {
                    set = "^" + set.substring(1);
                }
                re.append('[').append(set.replace("\\", "\\\\")).append(']');
                i = end;
            } else {
                re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return Pattern.compile(re.toString());
    }

    static boolean isGlob(String n) {
        return n.indexOf('*') >= 0 || n.indexOf('?') >= 0 || n.indexOf('[') >= 0;
    }

    /**
     * The request with its flow classifier chosen, when it leaves that to apply: eBPF, unless the
     * kernel refuses eBPF here (no permission, lockdown, an LSM, no bpf(2) or no SCHED_CLS), then the
     * u32 fallback, with the reason. A program the verifier refuses is thrown with its log.
     */
    public ShapingRequest withFlowClassifier(ShapingRequest r) {
        if (r.flows() <= 0 || r.classifier() != null) {
            return r;
        }
        Bpf.RefusedException e = shaper.bpfRefusal(new FlowProgram(r.flows(), Handle.of(TreeLayout.HTB_MAJOR,
                TreeLayout.FIRST_FLOW_MINOR)));
        if (e == null) {
            return r.withClassifier(FlowQueues.Classifier.BPF, null);
        }
        return r.withClassifier(FlowQueues.Classifier.U32, "the kernel refused eBPF here: " + e.getMessage());
    }

    /**
     * Reads the tun_flags of tun/tap devices by name, given their ifindexes; a device it does not
     * return has flags unknown (planned as one without kernel flow control).
     */
    @FunctionalInterface
    public interface FlagsReader {
        Map<String, Integer> read(Map<String, Integer> indexes) throws Exception;
    }

    /** Apply, reading each tun/tap device's tun_flags in this session's namespace (sysfs). */
    public List<Result> apply(List<String> names, ShapingRequest asked, Planner planner, boolean dryRun) {
        return apply(names, asked, planner, dryRun, ix -> TunFlags.read(netns, ix));
    }

    /**
     * Shapes the named devices (globs allowed) as {@code asked}; {@code flags} says which have the
     * kernel's flow control. A reader-paced request on a device without it is refused (nothing is
     * changed), unless {@code dryRun}, which shows the plan with the refusal as a warning.
     */
    public List<Result> apply(List<String> names, ShapingRequest asked, Planner planner, boolean dryRun,
                              FlagsReader flags) {
        ShapingRequest request = withFlowClassifier(asked);
        Shaper.Snapshot snap = shaper.snapshot();
        List<LinkInfo> links = resolve(snap.links(), names, netns);
        Map<String, Integer> tunFlags = tunFlags(links, flags);
        List<Shaper.Target> targets = new ArrayList<>();
        List<Plan> plans = new ArrayList<>();
        Map<List<Object>, Plan> planned = new HashMap<>();
        // validate every device before anything is sent
        for (LinkInfo l : links) {
            Plan p = plan(l, tunFlags.get(l.name()), request, planner, dryRun, planned, links.size() > 1);
            List<String> warnings = new ArrayList<>(p.warnings());
            if (request.classifierNote() != null && targets.isEmpty()) {
                // said once, with the first device (the plan of each says it too)
                warnings.add("flows are spread by the u32 fallback, weaker than eBPF's flow hash (" + request.classifierNote()
                        + "); see the plan (--dry-run) for what it lacks");
            }
            if (!l.isTunTap()) {
                warnings.add(0, l.name() + " is not a tun/tap device (" + (l.kind().isEmpty() ? "no kind" : l.kind())
                        + "); shaping it anyway");
            }
            DeviceState d = shaper.state(snap, l);
            for (String m : TreeCheck.missing(d)) {
                warnings.add(l.name() + " had an incomplete tunshape tree: " + m + (dryRun ? "" : "; repaired"));
            }
            targets.add(new Shaper.Target(d, shaper.applySteps(d, p), warnings));
            plans.add(p);
        }
        List<List<String>> kernelWarnings = dryRun ? null : shaper.execute(targets);
        List<List<String>> repairs = dryRun ? null : verify(targets, plans);
        List<Result> results = new ArrayList<>();
        for (int i = 0; i < targets.size(); i++) {
            List<String> kernel = new ArrayList<>();
            if (kernelWarnings != null) {
                for (String k : kernelWarnings.get(i)) {
                    kernel.add("kernel: " + k);
                }
                kernel.addAll(repairs.get(i));
            }
            results.add(result(targets.get(i), plans.get(i), kernel, dryRun));
        }
        return results;
    }

    /**
     * One device's plan, shared by devices alike ({@code planned}); a reader-paced request on a device
     * without kernel flow control is refused here unless {@code dryRun}.
     */
    private static Plan plan(LinkInfo l, Integer flags, ShapingRequest request, Planner planner, boolean dryRun,
                             Map<List<Object>, Plan> planned, boolean several) {
        Device dev = new Device(l.name(), l.mtu(), l.linkHeader(), l.txqueuelen(), flags);
        String refusal = Planner.readerRefusal(request, dev);
        // a plan depends on the device only through its frame size, ring and flags (and its name in a refusal)
        List<Object> key = java.util.Arrays.asList(l.mtu(), l.linkHeader(), l.txqueuelen(), flags,
                refusal != null ? l.name() : null);
        Plan p = planned.get(key);
        if (p == null) {
            try {
                p = planner.plan(request, dev);
            } catch (PlanException e) {
                throw new PlanException(e.field(), e.getMessage().substring(e.field().length() + 2)
                        + (several ? " (on " + l.name() + ")" : ""));
            }
            planned.put(key, p);
        }
        // after planning, so a bad request is named before the device is
        if (refusal != null && !dryRun) {
            throw new PlanException("rate", refusal);
        }
        return p;
    }

    /** The tun_flags of the tun/tap devices among {@code links}; empty when there are none or they cannot be read. */
    private static Map<String, Integer> tunFlags(List<LinkInfo> links, FlagsReader flags) {
        Map<String, Integer> ix = new HashMap<>();
        for (LinkInfo l : links) {
            if (l.isTunTap()) {
                ix.put(l.name(), l.index());
            }
        }
        if (ix.isEmpty()) {
            return Map.of();
        }
        try {
            return flags.read(ix);
        } catch (Exception e) {
            // unknown flags plan as today's (no kernel flow control); a reader-paced request is refused
            return Map.of();
        }
    }

    /** What apply says of one device: before and after, warnings, and with --dry-run the requests it would send. */
    private Result result(Shaper.Target t, Plan p, List<String> kernelWarnings, boolean dryRun) {
        List<String> w = new ArrayList<>(t.warnings());
        w.addAll(kernelWarnings);
        boolean changed = !t.steps().isEmpty();
        QdiscView after = Shaper.view(p.qdisc());
        QdiscView before = changed ? shaper.view(t.before()) : after;
        List<String> explanation = new ArrayList<>(p.explanation());
        if (dryRun) {
            String last = null;
            for (Shaper.Step s : t.steps()) {
                // the objects of one part (a u32 table's buckets) share their words: said once
                if (!s.what().equals(last)) {
                    explanation.add("would " + s.what());
                }
                last = s.what();
            }
            if (!changed) {
                explanation.add("the kernel already holds this plan: nothing would be sent");
            }
        }
        long txBefore = t.before().link().txqueuelen();
        return new Result(t.before().link().name(), netns, changed, before, after, w, explanation, txBefore,
                p.txqueuelen() != null ? p.txqueuelen() : txBefore);
    }

    /**
     * Reads back every changed device and compares it with its plan: the kernel must now hold it.
     * A difference (something outside tunshape's lock changed the device meanwhile, or the kernel
     * took a request differently) is repaired once, with a warning saying what was repaired; what
     * still differs after that is thrown as a {@link MismatchException}, never reported as success.
     * A device that vanished during the change is a {@link NoSuchInterfaceException}.
     */
    private List<List<String>> verify(List<Shaper.Target> targets, List<Plan> plans) {
        List<List<String>> notes = new ArrayList<>();
        for (int i = 0; i < targets.size(); i++) {
            notes.add(new ArrayList<>());
        }
        for (int attempt = 0; ; attempt++) {
            Shaper.Snapshot snap = null;
            List<Shaper.Target> again = new ArrayList<>();
            List<Integer> which = new ArrayList<>();
            for (int i = 0; i < targets.size(); i++) {
                Shaper.Target t = targets.get(i);
                if (t.steps().isEmpty()) {
                    continue;
                }
                if (snap == null) {
                    snap = shaper.snapshot();
                }
                LinkInfo link = find(snap, t.before().link());
                DeviceState now = shaper.state(snap, link);
                List<Shaper.Step> left = shaper.applySteps(now, plans.get(i));
                if (!left.isEmpty()) {
                    again.add(new Shaper.Target(now, left, List.of()));
                    which.add(i);
                }
            }
            if (again.isEmpty()) {
                return notes;
            }
            if (attempt > 0) {
                Shaper.Target t = again.get(0);
                throw new MismatchException(t.before().link().name(), Shaper.whats(t.steps()));
            }
            shaper.execute(again);
            for (int k = 0; k < again.size(); k++) {
                notes.get(which.get(k)).add("the re-read after the change differed from the plan (changed by "
                        + "something that does not take tunshape's lock?); repaired: "
                        + String.join("; ", Shaper.whats(again.get(k).steps())));
            }
        }
    }

    private LinkInfo find(Shaper.Snapshot snap, LinkInfo was) {
        for (LinkInfo l : snap.links()) {
            if (l.index() == was.index()) {
                return l;
            }
        }
        throw new NoSuchInterfaceException("interface '" + was.name() + "' (index " + was.index()
                + ") disappeared during the change in " + (netns == null ? "this network namespace"
                : "network namespace '" + netns + "'"));
    }

    public List<Result> clear(List<String> names, boolean dryRun) {
        Shaper.Snapshot snap = shaper.snapshot();
        List<LinkInfo> links = resolve(snap.links(), names, netns);
        List<Shaper.Target> targets = new ArrayList<>();
        for (LinkInfo l : links) {
            DeviceState d = shaper.state(snap, l);
            List<String> warnings = new ArrayList<>();
            if (d.root() != null && !TreeLayout.isManaged(d.root())) {
                warnings.add(l.name() + " has a root " + d.root().kind() + " " + d.root().handle()
                        + " that tunshape did not install; left alone");
            }
            targets.add(new Shaper.Target(d, shaper.clearSteps(d), warnings));
        }
        if (!dryRun) {
            shaper.execute(targets);
        }
        List<Result> results = new ArrayList<>();
        for (Shaper.Target t : targets) {
            boolean changed = !t.steps().isEmpty();
            QdiscView before = shaper.view(t.before());
            List<String> explanation = new ArrayList<>();
            for (Shaper.Step s : t.steps()) {
                explanation.add((dryRun ? "would " : "") + s.what());
            }
            long tx = t.before().link().txqueuelen();
            results.add(new Result(t.before().link().name(), netns, changed, before, changed ? null : before,
                    t.warnings(), explanation, tx, tx));
        }
        return results;
    }

    public List<Shown> show(List<String> names) {
        Shaper.Snapshot snap = shaper.snapshot();
        List<LinkInfo> links;
        if (names.isEmpty()) {
            links = new ArrayList<>();
            for (LinkInfo l : snap.links()) {
                if (l.isTunTap()) {
                    links.add(l);
                }
            }
        } else {
            links = resolve(snap.links(), names, netns);
        }
        List<Shown> out = new ArrayList<>();
        for (LinkInfo l : links) {
            io.tunshape.tc.QdiscInfo dflt = snap.defaults().get(l.index());
            DeviceState d = shaper.state(snap, l);
            out.add(new Shown(l, shaper.view(d), netns, dflt == null ? null : dflt.kind(),
                    dflt == null ? null : dflt.stats(), TreeCheck.missing(d)));
        }
        return out;
    }

    @Override
    public void close() {
        shaper.close();
        sock.close();
    }
}
