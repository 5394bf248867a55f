package io.tunshape.shape;

import io.tunshape.link.LinkClient;
import io.tunshape.netlink.MessageWriter;
import io.tunshape.netlink.Nl;
import io.tunshape.tc.BpfFilter;
import io.tunshape.tc.Handle;
import io.tunshape.tc.HtbKernel;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.Tc;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import io.tunshape.tc.TreeLayout;
import io.tunshape.tc.U32Node;
import io.tunshape.tc.U32FlowHash;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The requests that take a device from what it holds now back to what it held before. */
final class RestoreSteps {
    private final TcCodec codec;
    private final FlowPrograms programs;

    RestoreSteps(TcCodec codec, FlowPrograms programs) {
        this.codec = codec;
        this.programs = programs;
    }

    List<Shaper.Step> steps(DeviceState before, DeviceState now) {
        List<Shaper.Step> steps = new ArrayList<>();
        int ix = before.link().index();
        QdiscInfo b = before.root();
        QdiscInfo n = now.root();
        if (b == null) {
            if (n != null) {
                steps.add(new Shaper.Step("remove root " + n.handle(),
                        TcCodec.delete(Tc.RTM_DELQDISC, ix, n.handle(), Handle.ROOT), true));
            }
        } else {
            boolean sameRoot = n != null && n.handle().equals(b.handle()) && b.kind().equals(n.kind());
            if (!sameRoot) {
                steps.add(new Shaper.Step("put back root " + b.kind() + " " + b.handle(), rootAgain(ix, b)));
            } else if (!"htb".equals(b.kind()) && !Arrays.equals(b.options(), n.options())) {
                steps.add(new Shaper.Step("put back root " + b.kind() + " " + b.handle(),
                        TcCodec.raw(Tc.RTM_NEWQDISC, TcClient.CHANGE, ix, b.handle(), Handle.ROOT, b.kind(),
                                b.options())));
            }
            underRoot(before, sameRoot ? now : DeviceState.bare(now.link(), n), steps);
        }
        if (before.link().txqueuelen() != now.link().txqueuelen()) {
            steps.add(new Shaper.Step("put back txqueuelen " + before.link().txqueuelen(),
                    LinkClient.txqueuelenMessage(ix, before.link().txqueuelen())));
        }
        return steps;
    }

    /** The classes, leaves and filters under the root {@code before} had ({@code now}: what is under it now). */
    private void underRoot(DeviceState before, DeviceState now, List<Shaper.Step> steps) {
        int ix = before.link().index();
        Handle root = before.root().handle();
        FilterSet held = FilterSet.held(now);
        boolean filtersDiffer = !held.same(FilterSet.held(before));
        if (filtersDiffer && !held.isEmpty()) {
            FilterSteps.removeAll(ix, root, steps);
        }
        Map<Long, QdiscInfo> nowClasses = new java.util.TreeMap<>();
        for (QdiscInfo c : now.classes()) {
            nowClasses.put(c.handle().value(), c);
        }
        Set<Long> keep = new HashSet<>();
        for (QdiscInfo c : before.classes()) {
            keep.add(c.handle().value());
        }
        steps.addAll(ClassOrder.removeUnwanted(ix, nowClasses.values(), root, c -> keep.contains(c.handle().value()),
                "class", true));
        for (QdiscInfo c : ClassOrder.parentsFirst(before.classes(), root)) {
            QdiscInfo cur = nowClasses.get(c.handle().value());
            if (cur == null || !Arrays.equals(cur.options(), c.options())) {
                steps.add(new Shaper.Step("put back class " + c.handle(), TcCodec.raw(Tc.RTM_NEWTCLASS,
                        Nl.F_REQUEST | Nl.F_ACK | Nl.F_CREATE, ix, c.handle(), TreeLayout.parentOf(c, root), c.kind(),
                        c.options())));
            }
        }
        for (QdiscInfo ch : before.children()) {
            boolean same = false;
            for (QdiscInfo cur : now.children()) {
                same |= cur.handle().equals(ch.handle()) && cur.kind().equals(ch.kind())
                        && Arrays.equals(cur.options(), ch.options());
            }
            if (!same && ch.handle().value() != 0) {
                steps.add(new Shaper.Step("put back qdisc " + ch.handle(), TcCodec.raw(Tc.RTM_NEWQDISC,
                        TcClient.REPLACE, ix, ch.handle(), ch.parent(), ch.kind(), ch.options())));
            }
        }
        if (filtersDiffer) {
            filtersAgain(ix, root, before, steps);
        }
    }

    private void filtersAgain(int ix, Handle root, DeviceState before, List<Shaper.Step> steps) {
        // the match filters' objects as they were: tables before the nodes that fill or link to them
        List<U32Node> u32 = new ArrayList<>(before.u32());
        u32.sort(java.util.Comparator.comparing(n -> !n.isTable()));
        for (U32Node n : u32) {
            steps.add(new Shaper.Step("put back u32 filter prio " + n.prio(),
                    TcCodec.u32Node(TcClient.ADD, ix, root, n)));
        }
        for (BpfFilter f : before.bpfFilters()) {
            // tunshape's own program is built again from its name; another program is gone with
            // its filter, and cannot be put back from a dump
            if (f.flowProgram() != null) {
                steps.add(programs.filterStep(ix, root, f.flowProgram(), f.prio()));
            }
        }
        // tunshape's u32 flow classifier is built again from what it is; other u32 objects at
        // those priorities cannot be put back from a dump (their key nodes' handles are the kernel's)
        U32FlowHash u = U32FlowHash.recognise(before.u32Flow(), root.major(), Tc.FLOW_FILTER_PRIO);
        if (u != null) {
            FilterSteps.u32Flow(ix, root, u, steps);
        }
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
}
