package io.tunshape.shape;

import io.tunshape.link.LinkClient;
import io.tunshape.link.LinkInfo;
import io.tunshape.netlink.Ack;
import io.tunshape.netlink.MessageWriter;
import io.tunshape.netlink.NetlinkException;
import io.tunshape.netlink.Nl;
import io.tunshape.profile.Plan;
import io.tunshape.sys.Bpf;
import io.tunshape.sys.Fd;
import io.tunshape.tc.BpfFilter;
import io.tunshape.tc.FlowProgram;
import io.tunshape.tc.FlowQueues;
import io.tunshape.tc.Handle;
import io.tunshape.tc.HtbClassKernel;
import io.tunshape.tc.HtbClassSpec;
import io.tunshape.tc.HtbKernel;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.QdiscSpec;
import io.tunshape.tc.Stats;
import io.tunshape.tc.Tc;
import io.tunshape.tc.TbfSpec;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import io.tunshape.tc.U32Filter;
import io.tunshape.tc.U32FlowHash;
import io.tunshape.tc.U32Node;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Brings devices of one namespace to a plan, idempotently: compares what the kernel holds with what
 * the plan would make it hold, sends only the difference (changing in place where the kernel can),
 * and on a refusal puts every device it touched back as it was.
 *
 * <p>tunshape's qdiscs are recognised by their handles: {@code 7473:} for tbf, {@code 7474:} for
 * htb (one major per kind, so switching kinds is a single atomic replace), leaves {@code 75xx:}.
 * Flow queues' classifier is recognised by its filter's name and its program's tag ({@link FlowProgram}).
 */
public final class Shaper implements AutoCloseable {
    public static final int TBF_MAJOR = 0x7473;
    public static final int HTB_MAJOR = 0x7474;
    public static final int LEAF_BASE = 0x7500;
    public static final Handle TBF_HANDLE = Handle.of(TBF_MAJOR, 0);
    public static final Handle HTB_HANDLE = Handle.of(HTB_MAJOR, 0);

    private final TcClient tc;
    private final LinkClient links;
    private final TcCodec codec;

    /** Loads a flow program into the kernel, where the verifier checks it; returns its descriptor. */
    public interface ProgramLoader {
        Fd load(FlowProgram p);
    }

    /** The real loader: bpf(BPF_PROG_LOAD) as SCHED_CLS. */
    public static final ProgramLoader KERNEL = p -> Bpf.load(Bpf.PROG_TYPE_SCHED_CLS, p.bytes(), FlowProgram.LICENSE,
            FlowProgram.PROG_NAME);

    private final ProgramLoader loader;
    /** Programs loaded for filters this shaper adds: a filter holds its own reference once added. */
    private final Map<FlowProgram, Fd> programs = new HashMap<>();

    public Shaper(TcClient tc, LinkClient links) {
        this(tc, links, KERNEL);
    }

    public Shaper(TcClient tc, LinkClient links, ProgramLoader loader) {
        this.tc = tc;
        this.links = links;
        this.codec = tc.codec();
        this.loader = loader;
    }

    /** Closes this shaper's descriptors of loaded programs (filters in the kernel keep theirs). */
    @Override
    public void close() {
        for (Fd fd : programs.values()) {
            fd.close();
        }
        programs.clear();
    }

    public static boolean isManaged(QdiscInfo root) {
        return root != null && ((root.handle().equals(TBF_HANDLE) && "tbf".equals(root.kind()))
                || (root.handle().equals(HTB_HANDLE) && "htb".equals(root.kind())));
    }

    public static Handle leafHandle(int classMinor) {
        return Handle.of(LEAF_BASE + classMinor, 0);
    }

    /** Links and qdiscs of the namespace, read in two dumps. */
    public record Snapshot(List<LinkInfo> links, Map<Integer, QdiscInfo> roots, Map<Integer, QdiscInfo> defaults,
                           Map<Integer, List<QdiscInfo>> children) {
    }

    public Snapshot snapshot() {
        List<LinkInfo> l = links.links();
        Map<Integer, QdiscInfo> roots = new HashMap<>();
        Map<Integer, QdiscInfo> defaults = new HashMap<>();
        Map<Integer, List<QdiscInfo>> children = new HashMap<>();
        for (QdiscInfo q : tc.qdiscs()) {
            if (q.isRoot()) {
                // handle 0 is the kernel's default (pfifo_fast, noqueue, noop, mq): not a configured root
                (q.handle().value() != 0 ? roots : defaults).put(q.ifindex(), q);
            } else {
                children.computeIfAbsent(q.ifindex(), k -> new ArrayList<>()).add(q);
            }
        }
        return new Snapshot(l, roots, defaults, children);
    }

    public DeviceState state(Snapshot s, LinkInfo link) {
        QdiscInfo root = s.roots().get(link.index());
        List<QdiscInfo> classes = List.of();
        List<QdiscInfo> children = s.children().getOrDefault(link.index(), List.of());
        List<U32Filter> filters = List.of();
        List<BpfFilter> bpf = List.of();
        List<U32Node> u32Flow = List.of();
        if (root != null && "htb".equals(root.kind())) {
            classes = tc.classes(link.index());
            TcClient.Filters f = tc.filters(link.index(), root.handle());
            filters = f.u32();
            bpf = f.bpf();
            u32Flow = f.u32Flow();
        }
        return new DeviceState(link, root, classes, children, filters, bpf, u32Flow);
    }

    /** The state of one device now, read afresh. */
    public DeviceState reread(LinkInfo link) {
        Snapshot s = snapshot();
        for (LinkInfo l : s.links()) {
            if (l.index() == link.index()) {
                return state(s, l);
            }
        }
        return new DeviceState(link, null, List.of(), List.of());
    }

    // ---- views ---------------------------------------------------------------------------------

    public QdiscView view(DeviceState d) {
        QdiscInfo r = d.root();
        if (r == null) {
            return null;
        }
        TbfSpec tbf = null;
        HtbSpec htb = null;
        Map<Integer, Stats> classStats = new LinkedHashMap<>();
        try {
            if ("tbf".equals(r.kind()) && r.options() != null) {
                tbf = codec.toSpec(TcCodec.decodeTbf(r.options()));
            } else if ("htb".equals(r.kind()) && r.options() != null) {
                HtbKernel k = TcCodec.decodeHtb(r.options());
                List<HtbClassSpec> cls = new ArrayList<>();
                List<QdiscInfo> sorted = new ArrayList<>(d.classes());
                sorted.sort(java.util.Comparator.comparingLong(c -> c.handle().value()));
                for (QdiscInfo c : sorted) {
                    if (c.options() == null || c.handle().major() != r.handle().major()) {
                        continue;
                    }
                    long leafLimit = -1;
                    for (QdiscInfo ch : d.children()) {
                        if (ch.parent().equals(c.handle()) && "bfifo".equals(ch.kind())) {
                            leafLimit = TcCodec.decodeFifoLimit(ch.options());
                        }
                    }
                    Handle parent = parentOf(c, r.handle());
                    int parentMinor = parent.equals(r.handle()) ? 0 : parent.minor();
                    cls.add(codec.toSpec(c.handle().minor(), parentMinor, TcCodec.decodeHtbClass(c.options()),
                            leafLimit));
                    classStats.put(c.handle().minor(), c.stats());
                }
                FlowQueues flows = null;
                for (BpfFilter f : d.bpfFilters()) {
                    FlowProgram p = f.flowProgram();
                    if (p != null && p.first().major() == r.handle().major()) {
                        flows = flowQueues(cls, p.count(), p.first().minor(), f.prio(), FlowQueues.Classifier.BPF);
                    }
                }
                U32FlowHash u = U32FlowHash.recognise(d.u32Flow(), r.handle().major(), Tc.FLOW_FILTER_PRIO);
                if (u != null && flows == null) {
                    flows = flowQueues(cls, u.count(), u.firstMinor(), u.prio(), FlowQueues.Classifier.U32);
                }
                htb = new HtbSpec((int) k.defaultMinor(), (int) k.r2q(), k.directQlen(), cls, d.filters(), flows);
            }
        } catch (RuntimeException e) {
            // options the decoder does not understand: show the kind and counters only
            tbf = null;
            htb = null;
        }
        return new QdiscView(r.kind(), r.handle(), isManaged(r), tbf, htb, r.stats(), classStats);
    }

    /**
     * The flow queues a program serves, taken out of {@code cls}: when every class it can choose
     * exists, under one parent, and all are alike; otherwise null, and the classes stay listed one by one.
     */
    private static FlowQueues flowQueues(List<HtbClassSpec> cls, int count, int first, int prio,
                                         FlowQueues.Classifier kind) {
        List<HtbClassSpec> leaves = new ArrayList<>();
        for (HtbClassSpec c : cls) {
            if (c.minor() >= first && c.minor() < first + count) {
                leaves.add(c);
            }
        }
        if (leaves.size() != count) {
            return null;
        }
        HtbClassSpec t = leaves.get(0);
        FlowQueues fq = new FlowQueues(count, t.parentMinor(), first, t, prio, kind);
        if (!fq.classes().equals(leaves)) {
            return null;
        }
        cls.removeAll(leaves);
        return fq;
    }

    public static QdiscView view(QdiscSpec spec) {
        if (spec instanceof TbfSpec t) {
            return new QdiscView("tbf", TBF_HANDLE, true, t, null, null, Map.of());
        }
        HtbSpec h = (HtbSpec) spec;
        return new QdiscView("htb", HTB_HANDLE, true, null, h, null, Map.of());
    }

    // ---- steps ---------------------------------------------------------------------------------

    /** One request, with words for the plan and for errors. */
    public record Step(String what, MessageWriter message, boolean toleratesMissing) {
        Step(String what, MessageWriter message) {
            this(what, message, false);
        }
    }

    /** The requests that take the device from {@code d} to the plan; empty when it is there already. */
    public List<Step> applySteps(DeviceState d, Plan plan) {
        List<Step> steps = new ArrayList<>();
        int ix = d.link().index();
        QdiscInfo root = d.root();
        if (plan.qdisc() instanceof TbfSpec t) {
            boolean ours = root != null && root.handle().equals(TBF_HANDLE) && "tbf".equals(root.kind());
            if (!ours) {
                steps.add(new Step("install tbf " + TBF_HANDLE + " as root (replacing " + describe(root) + ")",
                        encoded(TcClient.REPLACE, t, ix)));
            } else if (!codec.predict(t).equals(TcCodec.decodeTbf(root.options()))) {
                steps.add(new Step("change tbf " + TBF_HANDLE + " in place", encoded(TcClient.CHANGE, t, ix)));
            }
        } else {
            htbSteps(d, (HtbSpec) plan.qdisc(), steps);
        }
        if (plan.txqueuelen() != null && plan.txqueuelen() != d.link().txqueuelen()) {
            steps.add(new Step("set txqueuelen " + plan.txqueuelen(),
                    LinkClient.txqueuelenMessage(ix, plan.txqueuelen())));
        }
        return steps;
    }

    /** A class's parent as a handle; htb dumps top-level classes with parent TC_H_ROOT, meaning the qdisc. */
    static Handle parentOf(QdiscInfo cls, Handle qdisc) {
        return cls.parent().equals(Handle.ROOT) ? qdisc : cls.parent();
    }

    private static Handle classHandle(int minor) {
        return Handle.of(HTB_MAJOR, minor);
    }

    private static Handle parentHandle(HtbClassSpec c) {
        return c.parentMinor() == 0 ? HTB_HANDLE : classHandle(c.parentMinor());
    }

    /**
     * htb: the root, then (in an order the kernel accepts) filter removal, removal of classes no
     * longer wanted (children first), classes added or changed in place (parents first), their leaf
     * bfifos, and the filters.
     */
    private void htbSteps(DeviceState d, HtbSpec h, List<Step> steps) {
        int ix = d.link().index();
        QdiscInfo root = d.root();
        boolean ours = root != null && root.handle().equals(HTB_HANDLE) && "htb".equals(root.kind());
        Map<Integer, QdiscInfo> have = new HashMap<>();
        if (ours) {
            for (QdiscInfo c : d.classes()) {
                if (c.handle().major() == HTB_MAJOR) {
                    have.put(c.handle().minor(), c);
                }
            }
        }
        boolean rebuild = ours && !codec.predict(h, 0).sameSettings(TcCodec.decodeHtb(root.options()));
        List<HtbClassSpec> all = h.allClasses();
        for (HtbClassSpec c : all) {
            QdiscInfo cur = have.get(c.minor());
            // a class cannot move to another parent in place
            rebuild |= cur != null && !parentOf(cur, HTB_HANDLE).equals(parentHandle(c));
        }
        if (rebuild) {
            // htb cannot change its globals, nor move a class, in place: remove it and build it again
            steps.add(new Step("remove htb " + HTB_HANDLE + " to rebuild it",
                    TcCodec.delete(Tc.RTM_DELQDISC, ix, HTB_HANDLE, Handle.ROOT)));
            ours = false;
            have.clear();
        }
        if (!ours) {
            steps.add(new Step("install htb " + HTB_HANDLE + " as root (replacing " + describe(root) + ")",
                    codec.htb(TcClient.REPLACE, ix, HTB_HANDLE, Handle.ROOT, h)));
        }
        List<U32Filter> filtersNow = ours ? d.filters() : List.of();
        List<BpfFilter> bpfNow = ours ? d.bpfFilters() : List.of();
        List<U32Node> u32Now = ours ? d.u32Flow() : List.of();
        boolean filtersDiffer = !filtersNow.equals(h.filters()) || !flowFilterIs(bpfNow, u32Now, h.flows());
        if (filtersDiffer && !(filtersNow.isEmpty() && bpfNow.isEmpty() && u32Now.isEmpty())) {
            steps.add(new Step("remove the filters under " + HTB_HANDLE, deleteFilters(ix, HTB_HANDLE), true));
        }
        java.util.Set<Integer> wanted = new java.util.HashSet<>();
        for (HtbClassSpec c : all) {
            wanted.add(c.minor());
        }
        List<QdiscInfo> extra = new ArrayList<>();
        for (QdiscInfo c : parentsFirst(new ArrayList<>(have.values()), HTB_HANDLE)) {
            if (!wanted.contains(c.handle().minor())) {
                extra.add(0, c);
            }
        }
        for (QdiscInfo c : extra) {
            steps.add(new Step("remove htb class " + c.handle(), TcCodec.delete(Tc.RTM_DELTCLASS, ix, c.handle(),
                    parentOf(c, HTB_HANDLE))));
        }
        java.util.Set<Integer> inner = new java.util.HashSet<>();
        for (HtbClassSpec c : all) {
            inner.add(c.parentMinor());
        }
        for (HtbClassSpec c : all) {
            Handle cid = classHandle(c.minor());
            QdiscInfo cur = have.get(c.minor());
            if (cur == null) {
                steps.add(new Step("add htb class " + cid, codec.htbClass(TcClient.ADD, ix, cid, parentHandle(c), c)));
            } else if (!holds(c, TcCodec.decodeHtbClass(cur.options()), inner.contains(c.minor()))) {
                steps.add(new Step("change htb class " + cid + " in place",
                        codec.htbClass(TcClient.CHANGE, ix, cid, parentHandle(c), c)));
            }
        }
        for (HtbClassSpec c : all) {
            if (c.limit() == null) {
                continue;
            }
            Handle cid = classHandle(c.minor());
            Handle leaf = leafHandle(c.minor());
            QdiscInfo child = null;
            if (ours) {
                for (QdiscInfo q : d.children()) {
                    if (q.parent().equals(cid)) {
                        child = q;
                    }
                }
            }
            boolean leafOurs = child != null && child.handle().equals(leaf) && "bfifo".equals(child.kind());
            if (!leafOurs) {
                steps.add(new Step("add bfifo " + leaf + " under " + cid,
                        codec.bfifo(TcClient.REPLACE, ix, leaf, cid, c.limit().bytes())));
            } else if (TcCodec.decodeFifoLimit(child.options()) != c.limit().bytes()) {
                steps.add(new Step("change bfifo " + leaf + " limit in place",
                        codec.bfifo(TcClient.CHANGE, ix, leaf, cid, c.limit().bytes())));
            }
        }
        if (filtersDiffer) {
            for (U32Filter f : h.filters()) {
                steps.add(new Step("add u32 filter prio " + f.prio() + " to " + classHandle(f.classMinor()),
                        TcCodec.u32(TcClient.ADD, ix, HTB_HANDLE, f)));
            }
            if (h.flows() != null && h.flows().classifier() == FlowQueues.Classifier.U32) {
                u32FlowSteps(ix, HTB_HANDLE, h.flows().u32(), steps);
            } else if (h.flows() != null) {
                FlowQueues fq = h.flows();
                steps.add(flowFilterStep(ix, HTB_HANDLE, fq.program(HTB_MAJOR), fq.filterPrio()));
            }
        }
    }

    /** The requests that build the u32 flow classifier: its tables, their buckets, the nodes linking to them. */
    private static void u32FlowSteps(int ix, Handle parent, U32FlowHash u, List<Step> steps) {
        String classes = Handle.of(parent.major(), u.firstMinor()) + "-" + Integer.toHexString(u.firstMinor()
                + u.queuesReached() - 1);
        for (U32Node n : u.nodes(parent.major())) {
            // one request per object, but the same words for the objects of one part (a plan lists them once)
            String what = "add the u32 flow classifier (fallback where eBPF is refused), prio " + n.prio() + ": "
                    + (n.isTable() ? "its hash tables" : n.classid() != 0 ? "its " + u.buckets() + " buckets by source "
                    + "port to classes " + classes : "its nodes from the IP header to the ports");
            steps.add(new Step(what, TcCodec.u32Node(TcClient.ADD, ix, parent, n)));
        }
    }

    /**
     * Whether the kernel holds class {@code c}. htb keeps the quantum and prio a class had when it
     * became a parent (htb_change_class sets them for leaves only), and uses neither for an inner
     * class, so for one they are not compared: a change could never bring them to the plan.
     */
    private boolean holds(HtbClassSpec c, HtbClassKernel k, boolean inner) {
        HtbClassKernel want = codec.predict(c);
        if (inner) {
            want = new HtbClassKernel(want.rateBytes(), want.ceilBytes(), want.bufferTicks(), want.cbufferTicks(),
                    k.quantum(), k.prio(), want.overhead(), want.mpu());
        }
        return want.equals(k);
    }

    /**
     * Whether the cls_bpf filters and the u32 objects at the flow priorities are exactly the flow
     * classifier {@code fq} asks for (none for null).
     */
    private static boolean flowFilterIs(List<BpfFilter> now, List<U32Node> u32Now, FlowQueues fq) {
        if (fq == null) {
            return now.isEmpty() && u32Now.isEmpty();
        }
        if (fq.classifier() == FlowQueues.Classifier.U32) {
            List<U32Node> want = fq.u32().nodes(HTB_MAJOR);
            return now.isEmpty() && want.size() == u32Now.size()
                    && new java.util.HashSet<>(want).equals(new java.util.HashSet<>(u32Now));
        }
        return u32Now.isEmpty() && now.size() == 1 && fq.program(HTB_MAJOR).equals(now.get(0).flowProgram())
                && now.get(0).prio() == fq.filterPrio() && now.get(0).protocol() == BpfFilter.ETH_P_ALL;
    }

    /**
     * Whether eBPF is refused here: loads {@code p} (kept for the filter that will run it) and returns
     * null when the kernel takes it, or the refusal when it refuses eBPF itself
     * ({@link Bpf.RefusedException#bpfNotAllowed}). A refusal by the verifier is thrown: tunshape's
     * program is at fault, and the user sees the verifier's log.
     */
    public Bpf.RefusedException bpfRefusal(FlowProgram p) {
        if (refusal != null) {
            return refusal;
        }
        try {
            programs.computeIfAbsent(p, loader::load);
            return null;
        } catch (Bpf.RefusedException e) {
            if (!e.bpfNotAllowed()) {
                throw e;
            }
            refusal = e;
            return e;
        }
    }

    /** The refusal of eBPF this shaper met, kept: it is not asked again for every device and pass. */
    private Bpf.RefusedException refusal;

    /**
     * The request that adds the flow classifier: its program is loaded here (the kernel's verifier
     * checks it now, also for --dry-run; nothing is attached until the request is sent).
     */
    private Step flowFilterStep(int ix, Handle parent, FlowProgram p, int prio) {
        Fd fd = programs.computeIfAbsent(p, loader::load);
        return new Step("add the flow classifier (cls_bpf prio " + prio + ", program " + FlowProgram.PROG_NAME
                + ": flow hash modulo " + p.count() + " to classes " + p.first() + "-"
                + Integer.toHexString(p.first().minor() + p.count() - 1) + ")",
                TcCodec.bpf(TcClient.ADD, ix, parent, prio, BpfFilter.ETH_P_ALL, Bpf.number(fd), p.filterName()));
    }

    /** RTM_DELTFILTER with priority 0: every filter under the parent. */
    private static MessageWriter deleteFilters(int ix, Handle parent) {
        return TcCodec.tcmsg(Tc.RTM_DELTFILTER, Nl.F_REQUEST | Nl.F_ACK, ix, Handle.UNSPEC, parent);
    }

    private record TbfKey(int flags, TbfSpec spec) {
    }

    /** tbf requests encoded once per (flags, spec); each device gets a copy with its ifindex. */
    private final Map<TbfKey, MessageWriter> encodedTbf = new HashMap<>();

    private MessageWriter encoded(int flags, TbfSpec t, int ifindex) {
        MessageWriter m = encodedTbf.computeIfAbsent(new TbfKey(flags, t),
                k -> codec.tbf(k.flags(), 0, TBF_HANDLE, Handle.ROOT, k.spec()));
        return m.withU32At(Nl.HDRLEN + 4, ifindex);
    }

    /** Requests that remove tunshape's root qdisc; none when the device has the default or a foreign one. */
    public List<Step> clearSteps(DeviceState d) {
        if (!isManaged(d.root())) {
            return List.of();
        }
        return List.of(new Step("remove " + d.root().kind() + " " + d.root().handle() + " (back to the kernel default)",
                TcCodec.delete(Tc.RTM_DELQDISC, d.link().index(), d.root().handle(), Handle.ROOT), true));
    }

    /** Requests that take a device from {@code now} back to {@code before}. */
    public List<Step> restoreSteps(DeviceState before, DeviceState now) {
        List<Step> steps = new ArrayList<>();
        int ix = before.link().index();
        QdiscInfo b = before.root();
        QdiscInfo n = now.root();
        if (b == null) {
            if (n != null) {
                steps.add(new Step("remove root " + n.handle(), TcCodec.delete(Tc.RTM_DELQDISC, ix, n.handle(), Handle.ROOT),
                        true));
            }
        } else {
            boolean sameRoot = n != null && n.handle().equals(b.handle()) && b.kind().equals(n.kind());
            if (!sameRoot) {
                steps.add(new Step("put back root " + b.kind() + " " + b.handle(), rootAgain(ix, b)));
            } else if (!"htb".equals(b.kind()) && !java.util.Arrays.equals(b.options(), n.options())) {
                steps.add(new Step("put back root " + b.kind() + " " + b.handle(),
                        TcCodec.raw(Tc.RTM_NEWQDISC, TcClient.CHANGE, ix, b.handle(), Handle.ROOT, b.kind(), b.options())));
            }
            List<U32Filter> filtersNow = sameRoot ? now.filters() : List.of();
            List<BpfFilter> bpfNow = sameRoot ? now.bpfFilters() : List.of();
            List<U32Node> u32Now = sameRoot ? now.u32Flow() : List.of();
            boolean filtersDiffer = !filtersNow.equals(before.filters())
                    || !bpfKeys(bpfNow).equals(bpfKeys(before.bpfFilters()))
                    || !new java.util.HashSet<>(u32Now).equals(new java.util.HashSet<>(before.u32Flow()))
                    || u32Now.size() != before.u32Flow().size();
            if (filtersDiffer && !(filtersNow.isEmpty() && bpfNow.isEmpty() && u32Now.isEmpty())) {
                steps.add(new Step("remove the filters under " + b.handle(), deleteFilters(ix, b.handle()), true));
            }
            Map<Long, QdiscInfo> nowClasses = new HashMap<>();
            if (sameRoot) {
                for (QdiscInfo c : now.classes()) {
                    nowClasses.put(c.handle().value(), c);
                }
            }
            java.util.Set<Long> keep = new java.util.HashSet<>();
            for (QdiscInfo c : before.classes()) {
                keep.add(c.handle().value());
            }
            List<QdiscInfo> extra = new ArrayList<>();
            for (QdiscInfo c : parentsFirst(new ArrayList<>(nowClasses.values()), b.handle())) {
                if (!keep.contains(c.handle().value())) {
                    extra.add(0, c);
                }
            }
            for (QdiscInfo c : extra) {
                steps.add(new Step("remove class " + c.handle(),
                        TcCodec.delete(Tc.RTM_DELTCLASS, ix, c.handle(), parentOf(c, b.handle())), true));
            }
            for (QdiscInfo c : parentsFirst(before.classes(), b.handle())) {
                QdiscInfo cur = nowClasses.get(c.handle().value());
                if (cur == null || !java.util.Arrays.equals(cur.options(), c.options())) {
                    steps.add(new Step("put back class " + c.handle(), TcCodec.raw(Tc.RTM_NEWTCLASS,
                            Nl.F_REQUEST | Nl.F_ACK | Nl.F_CREATE, ix, c.handle(), parentOf(c, b.handle()), c.kind(),
                            c.options())));
                }
            }
            for (QdiscInfo ch : before.children()) {
                boolean same = false;
                for (QdiscInfo cur : now.children()) {
                    same |= sameRoot && cur.handle().equals(ch.handle()) && cur.kind().equals(ch.kind())
                            && java.util.Arrays.equals(cur.options(), ch.options());
                }
                if (!same && ch.handle().value() != 0) {
                    steps.add(new Step("put back qdisc " + ch.handle(), TcCodec.raw(Tc.RTM_NEWQDISC, TcClient.REPLACE, ix,
                            ch.handle(), ch.parent(), ch.kind(), ch.options())));
                }
            }
            if (filtersDiffer) {
                for (U32Filter f : before.filters()) {
                    steps.add(new Step("put back u32 filter prio " + f.prio(), TcCodec.u32(TcClient.ADD, ix, b.handle(), f)));
                }
                for (BpfFilter f : before.bpfFilters()) {
                    // tunshape's own program is built again from its name; another program is gone with
                    // its filter, and cannot be put back from a dump
                    if (f.flowProgram() != null) {
                        steps.add(flowFilterStep(ix, b.handle(), f.flowProgram(), f.prio()));
                    }
                }
                // tunshape's u32 flow classifier is built again from what it is; other u32 objects at
                // those priorities cannot be put back from a dump (their key nodes' handles are the kernel's)
                U32FlowHash u = U32FlowHash.recognise(before.u32Flow(), b.handle().major(), Tc.FLOW_FILTER_PRIO);
                if (u != null) {
                    u32FlowSteps(ix, b.handle(), u, steps);
                }
            }
        }
        if (before.link().txqueuelen() != now.link().txqueuelen()) {
            steps.add(new Step("put back txqueuelen " + before.link().txqueuelen(),
                    LinkClient.txqueuelenMessage(ix, before.link().txqueuelen())));
        }
        return steps;
    }

    /** cls_bpf filters without their program ids, which a reload changes. */
    private static List<List<Object>> bpfKeys(List<BpfFilter> fs) {
        List<List<Object>> out = new ArrayList<>();
        for (BpfFilter f : fs) {
            out.add(java.util.Arrays.asList(f.prio(), f.protocol(), f.name(), f.tag(), f.flags()));
        }
        return out;
    }

    /**
     * A request that installs a dumped root qdisc again. Options are sent back as dumped, except
     * htb's: its dump says version 0x30011 where input must say 3, so it is encoded afresh.
     */
    private MessageWriter rootAgain(int ix, QdiscInfo b) {
        if ("htb".equals(b.kind()) && b.options() != null) {
            HtbKernel k = TcCodec.decodeHtb(b.options());
            return codec.htb(TcClient.REPLACE, ix, b.handle(), Handle.ROOT,
                    new HtbSpec((int) k.defaultMinor(), (int) k.r2q(), k.directQlen(), List.of()));
        }
        return TcCodec.raw(Tc.RTM_NEWQDISC, TcClient.REPLACE, ix, b.handle(), Handle.ROOT, b.kind(), b.options());
    }

    private static List<QdiscInfo> parentsFirst(List<QdiscInfo> classes, Handle root) {
        List<QdiscInfo> out = new ArrayList<>();
        List<QdiscInfo> left = new ArrayList<>(classes);
        java.util.Set<Long> placed = new java.util.HashSet<>();
        placed.add(root.value());
        placed.add(Handle.ROOT.value());
        while (!left.isEmpty()) {
            boolean progress = false;
            for (java.util.Iterator<QdiscInfo> it = left.iterator(); it.hasNext(); ) {
                QdiscInfo c = it.next();
                if (placed.contains(c.parent().value())) {
                    out.add(c);
                    placed.add(c.handle().value());
                    it.remove();
                    progress = true;
                }
            }
            if (!progress) {
                out.addAll(left);
                break;
            }
        }
        return out;
    }

    private static String describe(QdiscInfo root) {
        return root == null ? "the kernel default" : root.kind() + " " + root.handle();
    }

    // ---- running ---------------------------------------------------------------------------------

    /** One device with its state before and the requests planned for it. */
    public record Target(DeviceState before, List<Step> steps, List<String> warnings) {
    }

    /**
     * Sends every target's requests in order. On a refusal, puts back every device already changed
     * (the failing one included) and throws; warnings the kernel attached to its acks are added to
     * the target's list.
     */
    public List<List<String>> execute(List<Target> targets) {
        List<List<String>> kernelWarnings = new ArrayList<>();
        boolean sentAny = false;
        for (int i = 0; i < targets.size(); i++) {
            Target t = targets.get(i);
            List<String> w = new ArrayList<>();
            kernelWarnings.add(w);
            for (Step s : t.steps()) {
                try {
                    Ack ack = send(s);
                    if (ack != null) {
                        sentAny = true;
                        w.addAll(ack.warnings());
                    }
                } catch (NetlinkException e) {
                    List<String> failures = rollback(targets.subList(0, i + 1));
                    throw new ShapeException(t.before().link().name(), s.what(), e, failures, sentAny);
                }
            }
        }
        return kernelWarnings;
    }

    /**
     * Changes the classes and leaf limits of tunshape's htb on a device in place, without reading
     * anything first: the daemon's fast path for a new adaptive rate. With {@code emptyLeaves}, each
     * leaf is deleted and added again at its new limit instead of changed (the class holds the
     * kernel's default leaf in between): what it held is dropped at once, and the kernel counts it in
     * the root's drops. The next full pass checks the result like any other.
     */
    public void changeHtbInPlace(int ifindex, HtbSpec h, boolean emptyLeaves) {
        for (HtbClassSpec c : h.classes()) {
            // no rate tables: the kernel does not read them for our ratespecs
            tc.send(codec.htbClass(TcClient.CHANGE, ifindex, classHandle(c.minor()), parentHandle(c), c, false));
            if (c.limit() == null) {
                continue;
            }
            if (emptyLeaves) {
                tc.send(TcCodec.delete(Tc.RTM_DELQDISC, ifindex, leafHandle(c.minor()), classHandle(c.minor())));
            }
            tc.send(codec.bfifo(emptyLeaves ? TcClient.REPLACE : TcClient.CHANGE, ifindex, leafHandle(c.minor()),
                    classHandle(c.minor()), c.limit().bytes()));
        }
        // flow queues borrow everything from their parent, so a new rate moves no flow class; their
        // queues are emptied on request (a deep fall in latency mode) like any leaf
        if (h.flows() != null && emptyLeaves) {
            for (HtbClassSpec c : h.flows().classes()) {
                tc.send(TcCodec.delete(Tc.RTM_DELQDISC, ifindex, leafHandle(c.minor()), classHandle(c.minor())));
                tc.send(codec.bfifo(TcClient.REPLACE, ifindex, leafHandle(c.minor()), classHandle(c.minor()),
                        c.limit().bytes()));
            }
        }
    }

    /**
     * Sends one step and returns the kernel's ack, or null when the step tolerates a missing object
     * and the object was already gone (ENOENT, or EINVAL for a root of handle 0): nothing changed.
     */
    public Ack send(Step s) {
        try {
            return tc.send(s.message());
        } catch (NetlinkException e) {
            if (s.toleratesMissing() && (e.errno() == io.tunshape.sys.Errno.ENOENT
                    || e.errno() == io.tunshape.sys.Errno.EINVAL)) {
                return null;
            }
            throw e;
        }
    }

    /** The words of some steps, for messages. */
    public static List<String> whats(List<Step> steps) {
        List<String> out = new ArrayList<>(steps.size());
        for (Step s : steps) {
            out.add(s.what());
        }
        return out;
    }

    /**
     * Puts back every target that had steps, newest first, then re-reads each: one that still
     * differs from its state before is a failure, so "put back" and "nothing was changed" are said
     * only when a re-read shows them.
     */
    private List<String> rollback(List<Target> done) {
        List<String> failures = new ArrayList<>();
        for (int j = done.size() - 1; j >= 0; j--) {
            Target t = done.get(j);
            if (t.steps().isEmpty()) {
                continue;
            }
            try {
                DeviceState now = reread(t.before().link());
                for (Step s : restoreSteps(t.before(), now)) {
                    try {
                        send(s);
                    } catch (NetlinkException e) {
                        failures.add(t.before().link().name() + ": " + s.what() + ": " + e.getMessage());
                    }
                }
            } catch (RuntimeException e) {
                failures.add(t.before().link().name() + ": " + e.getMessage());
            }
        }
        if (!failures.isEmpty()) {
            return failures;
        }
        for (Target t : done) {
            if (t.steps().isEmpty()) {
                continue;
            }
            try {
                List<Step> left = restoreSteps(t.before(), reread(t.before().link()));
                if (!left.isEmpty()) {
                    failures.add(t.before().link().name() + ": the re-read still differs from before: "
                            + String.join("; ", whats(left)));
                }
            } catch (RuntimeException e) {
                failures.add(t.before().link().name() + ": re-read after putting back: " + e.getMessage());
            }
        }
        return failures;
    }

}
