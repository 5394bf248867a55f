package io.tunshape.shape;

import io.tunshape.link.LinkClient;
import io.tunshape.netlink.MessageWriter;
import io.tunshape.profile.Plan;
import io.tunshape.tc.FlowQueues;
import io.tunshape.tc.Handle;
import io.tunshape.tc.HtbClassKernel;
import io.tunshape.tc.HtbClassSpec;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.KernelStructs.TcMsg;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.Tc;
import io.tunshape.tc.TbfSpec;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import io.tunshape.tc.U32Filter;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.tunshape.tc.TreeLayout.HTB_HANDLE;
import static io.tunshape.tc.TreeLayout.HTB_MAJOR;
import static io.tunshape.tc.TreeLayout.TBF_HANDLE;
import static io.tunshape.tc.TreeLayout.classHandle;
import static io.tunshape.tc.TreeLayout.leafHandle;
import static io.tunshape.tc.TreeLayout.parentHandle;
import static io.tunshape.tc.TreeLayout.parentOf;

/**
 * The requests that take a device from what it holds to a plan: only the difference, changing in
 * place where the kernel can; none when it is there already.
 */
final class ApplySteps {
    private final TcCodec codec;
    private final FlowPrograms programs;

    ApplySteps(TcCodec codec, FlowPrograms programs) {
        this.codec = codec;
        this.programs = programs;
    }

    List<Shaper.Step> steps(DeviceState d, Plan plan) {
        List<Shaper.Step> steps = new ArrayList<>();
        int ix = d.link().index();
        QdiscInfo root = d.root();
        if (plan.qdisc() instanceof TbfSpec t) {
            boolean ours = root != null && root.handle().equals(TBF_HANDLE) && "tbf".equals(root.kind());
            if (!ours) {
                steps.add(new Shaper.Step("install tbf " + TBF_HANDLE + " as root (replacing " + describe(root) + ")",
                        encoded(TcClient.REPLACE, t, ix)));
            } else if (!codec.predict(t).equals(TcCodec.decodeTbf(root.options()))) {
                steps.add(new Shaper.Step("change tbf " + TBF_HANDLE + " in place", encoded(TcClient.CHANGE, t, ix)));
            }
        } else {
            htb(d, (HtbSpec) plan.qdisc(), steps);
        }
        if (plan.txqueuelen() != null && plan.txqueuelen() != d.link().txqueuelen()) {
            steps.add(new Shaper.Step("set txqueuelen " + plan.txqueuelen(),
                    LinkClient.txqueuelenMessage(ix, plan.txqueuelen())));
        }
        return steps;
    }

    /** Requests that remove tunshape's root qdisc; none when the device has the default or a foreign one. */
    static List<Shaper.Step> clear(DeviceState d) {
        if (!io.tunshape.tc.TreeLayout.isManaged(d.root())) {
            return List.of();
        }
        return List.of(new Shaper.Step("remove " + d.root().kind() + " " + d.root().handle()
                + " (back to the kernel default)",
                TcCodec.delete(Tc.RTM_DELQDISC, d.link().index(), d.root().handle(), Handle.ROOT), true));
    }

    /**
     * htb: the root, then (in an order the kernel accepts) filter removal, removal of classes no
     * longer wanted (children first), classes added or changed in place (parents first), their leaf
     * bfifos, and the filters.
     */
    private void htb(DeviceState d, HtbSpec h, List<Shaper.Step> steps) {
        int ix = d.link().index();
        QdiscInfo root = d.root();
        boolean ours = root != null && root.handle().equals(HTB_HANDLE) && "htb".equals(root.kind());
        Map<Integer, QdiscInfo> have = new java.util.TreeMap<>();
        if (ours) {
            for (QdiscInfo c : d.classes()) {
                if (c.handle().major() == HTB_MAJOR) {
                    have.put(c.handle().minor(), c);
                }
            }
        }
        List<HtbClassSpec> all = h.allClasses();
        if (ours && mustRebuild(root, h, all, have)) {
            // htb cannot change its globals, nor move a class, in place: remove it and build it again
            steps.add(new Shaper.Step("remove htb " + HTB_HANDLE + " to rebuild it",
                    TcCodec.delete(Tc.RTM_DELQDISC, ix, HTB_HANDLE, Handle.ROOT)));
            ours = false;
            have.clear();
        }
        if (!ours) {
            steps.add(new Shaper.Step("install htb " + HTB_HANDLE + " as root (replacing " + describe(root) + ")",
                    codec.htb(TcClient.REPLACE, ix, HTB_HANDLE, Handle.ROOT, h)));
        }
        FilterSet now = ours ? FilterSet.held(d) : FilterSet.NONE;
        boolean filtersDiffer = !now.same(FilterSet.wanted(h));
        if (filtersDiffer && !now.isEmpty()) {
            FilterSteps.removeAll(ix, HTB_HANDLE, steps);
        }
        Set<Integer> wanted = new HashSet<>();
        for (HtbClassSpec c : all) {
            wanted.add(c.minor());
        }
        steps.addAll(ClassOrder.removeUnwanted(ix, have.values(), HTB_HANDLE,
                c -> wanted.contains(c.handle().minor()), "htb class", false));
        classes(ix, all, have, steps);
        leaves(ix, all, ours ? d.children() : List.of(), steps);
        if (filtersDiffer) {
            filters(ix, h, steps);
        }
    }

    private boolean mustRebuild(QdiscInfo root, HtbSpec h, List<HtbClassSpec> all, Map<Integer, QdiscInfo> have) {
        boolean rebuild = !codec.predict(h, 0).sameSettings(TcCodec.decodeHtb(root.options()));
        for (HtbClassSpec c : all) {
            QdiscInfo cur = have.get(c.minor());
            // a class cannot move to another parent in place
            rebuild |= cur != null && !parentOf(cur, HTB_HANDLE).equals(parentHandle(c));
        }
        return rebuild;
    }

    private void classes(int ix, List<HtbClassSpec> all, Map<Integer, QdiscInfo> have, List<Shaper.Step> steps) {
        Set<Integer> inner = new HashSet<>();
        for (HtbClassSpec c : all) {
            inner.add(c.parentMinor());
        }
        for (HtbClassSpec c : all) {
            Handle cid = classHandle(c.minor());
            QdiscInfo cur = have.get(c.minor());
            if (cur == null) {
                steps.add(new Shaper.Step("add htb class " + cid,
                        codec.htbClass(TcClient.ADD, ix, cid, parentHandle(c), c)));
            } else if (!holds(c, TcCodec.decodeHtbClass(cur.options()), inner.contains(c.minor()))) {
                steps.add(new Shaper.Step("change htb class " + cid + " in place",
                        codec.htbClass(TcClient.CHANGE, ix, cid, parentHandle(c), c)));
            }
        }
    }

    private void leaves(int ix, List<HtbClassSpec> all, List<QdiscInfo> children, List<Shaper.Step> steps) {
        for (HtbClassSpec c : all) {
            if (c.limit() == null) {
                continue;
            }
            Handle cid = classHandle(c.minor());
            Handle leaf = leafHandle(c.minor());
            QdiscInfo child = null;
            for (QdiscInfo q : children) {
                if (q.parent().equals(cid)) {
                    child = q;
                }
            }
            boolean leafOurs = child != null && child.handle().equals(leaf) && "bfifo".equals(child.kind());
            if (!leafOurs) {
                steps.add(new Shaper.Step("add bfifo " + leaf + " under " + cid,
                        codec.bfifo(TcClient.REPLACE, ix, leaf, cid, c.limit().bytes())));
            } else if (TcCodec.decodeFifoLimit(child.options()) != c.limit().bytes()) {
                steps.add(new Shaper.Step("change bfifo " + leaf + " limit in place",
                        codec.bfifo(TcClient.CHANGE, ix, leaf, cid, c.limit().bytes())));
            }
        }
    }

    private void filters(int ix, HtbSpec h, List<Shaper.Step> steps) {
        for (U32Filter f : h.filters()) {
            FilterSteps.match(ix, HTB_HANDLE, f, steps, "add u32 filter prio " + f.prio() + " to "
                    + classHandle(f.classMinor()));
        }
        FlowQueues fq = h.flows();
        if (fq != null && fq.classifier() == FlowQueues.Classifier.U32) {
            FilterSteps.u32Flow(ix, HTB_HANDLE, fq.u32(), steps);
        } else if (fq != null) {
            steps.add(programs.filterStep(ix, HTB_HANDLE, fq.program(HTB_MAJOR), fq.filterPrio()));
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

    static String describe(QdiscInfo root) {
        return root == null ? "the kernel default" : root.kind() + " " + root.handle();
    }

    /** equals and hashCode written out, as for TbfSpec (RecordMethodsTest). */
    private record TbfKey(int flags, TbfSpec spec) {
        @Override
        public boolean equals(Object o) {
            return o instanceof TbfKey k && k.flags == flags && k.spec.equals(spec);
        }

        @Override
        public int hashCode() {
            return flags * 31 + spec.hashCode();
        }

        @Override
        public String toString() {
            return "TbfKey[flags=" + flags + ", spec=" + spec + "]";
        }
    }

    /** tbf requests encoded once per (flags, spec); each device gets a copy with its ifindex. */
    private final Map<TbfKey, MessageWriter> encodedTbf = new HashMap<>();

    private MessageWriter encoded(int flags, TbfSpec t, int ifindex) {
        MessageWriter m = encodedTbf.computeIfAbsent(new TbfKey(flags, t),
                k -> codec.tbf(k.flags(), 0, TBF_HANDLE, Handle.ROOT, k.spec()));
        return TcMsg.withIfindex(m, ifindex);
    }
}
