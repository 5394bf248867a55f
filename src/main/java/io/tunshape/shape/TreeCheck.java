package io.tunshape.shape;

import io.tunshape.tc.Handle;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.TcCodec;
import io.tunshape.tc.U32Filter;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What an incomplete tunshape tree lacks. A change interrupted half-way (a killed process, a
 * change by hand) or two changes that cross can leave tunshape's htb root without its class (all
 * traffic then passes unshaped through htb's direct queue), a class without its leaf qdisc (the
 * kernel's hidden default pfifo counts packets, not bytes), or a filter that names a class that is
 * not there. Checked over whatever the device holds, so any tree built of htb classes, leaves and
 * filters is covered. tbf is one qdisc and cannot be half there.
 */
public final class TreeCheck {
    private TreeCheck() {
    }

    /** One line per missing piece; empty when the tree is complete or is not tunshape's htb. */
    public static List<String> missing(DeviceState d) {
        QdiscInfo r = d.root();
        if (r == null || !"htb".equals(r.kind()) || !io.tunshape.tc.TreeLayout.isManaged(r)) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        Map<Integer, QdiscInfo> classes = new TreeMap<>();
        Set<Long> parents = new HashSet<>();
        for (QdiscInfo c : d.classes()) {
            if (c.handle().major() == r.handle().major()) {
                classes.put(c.handle().minor(), c);
                parents.add(io.tunshape.tc.TreeLayout.parentOf(c, r.handle()).value());
            }
        }
        if (classes.isEmpty()) {
            out.add("htb root " + r.handle() + " has no class: all traffic bypasses shaping through htb's direct queue");
        } else {
            long dflt = defaultMinor(r);
            if (dflt > 0 && !classes.containsKey((int) dflt)) {
                out.add("the default class " + Handle.of(r.handle().major(), (int) dflt) + " is missing: unclassified "
                        + "traffic bypasses shaping through htb's direct queue");
            }
        }
        leaves(d, classes, parents, out);
        for (U32Filter f : d.filters()) {
            if (!classes.containsKey(f.classMinor())) {
                out.add("u32 filter prio " + f.prio() + " points to " + Handle.of(r.handle().major(), f.classMinor())
                        + ", which does not exist (its packets bypass shaping)");
            }
        }
        flowClassifiers(d, r, classes, out);
        return out;
    }

    /** Leaf classes without a leaf qdisc. */
    private static void leaves(DeviceState d, Map<Integer, QdiscInfo> classes, Set<Long> parents, List<String> out) {
        for (QdiscInfo c : classes.values()) {
            if (parents.contains(c.handle().value())) {
                continue; // an inner class: its children hold the packets
            }
            boolean leaf = false;
            for (QdiscInfo q : d.children()) {
                leaf |= q.parent().equals(c.handle());
            }
            if (!leaf) {
                out.add("class " + c.handle() + " has no leaf qdisc (tunshape gives each leaf class a bfifo; the "
                        + "kernel's hidden default counts packets, not bytes)");
            }
        }
    }

    /** A flow classifier (either kind) that is incomplete or sends to classes that are not there. */
    private static void flowClassifiers(DeviceState d, QdiscInfo r, Map<Integer, QdiscInfo> classes,
                                        List<String> out) {
        for (io.tunshape.tc.BpfFilter f : d.bpfFilters()) {
            io.tunshape.tc.FlowProgram p = f.flowProgram();
            if (p == null) {
                continue;
            }
            int absent = 0;
            for (int m = p.first().minor(); m < p.first().minor() + p.count(); m++) {
                absent += classes.containsKey(m) ? 0 : 1;
            }
            if (absent > 0) {
                out.add("the flow classifier (bpf prio " + f.prio() + ") spreads flows over " + p.count() + " classes "
                        + "from " + p.first() + ", " + absent + " of which do not exist (their packets go to the "
                        + "default class)");
            }
        }
        if (!d.u32Flow().isEmpty()) {
            io.tunshape.tc.U32FlowHash u = io.tunshape.tc.U32FlowHash.recognise(d.u32Flow(), r.handle().major(),
                    io.tunshape.tc.Tc.FLOW_FILTER_PRIO);
            if (u == null) {
                out.add("the u32 flow classifier (prio " + io.tunshape.tc.Tc.FLOW_FILTER_PRIO + "-"
                        + (io.tunshape.tc.Tc.FLOW_FILTER_PRIO + 1) + ") is incomplete: " + d.u32Flow().size()
                        + " u32 objects that are not the tables and nodes tunshape builds (flows may all reach one "
                        + "queue, or the default class)");
            } else {
                int absent = 0;
                for (int m = u.firstMinor(); m < u.firstMinor() + u.count(); m++) {
                    absent += classes.containsKey(m) ? 0 : 1;
                }
                if (absent > 0) {
                    out.add("the u32 flow classifier spreads flows over " + u.count() + " classes from "
                            + Handle.of(r.handle().major(), u.firstMinor()) + ", " + absent + " of which do not exist "
                            + "(their packets go to the default class)");
                }
            }
        }
    }

    private static long defaultMinor(QdiscInfo root) {
        try {
            return root.options() == null ? 0 : TcCodec.decodeHtb(root.options()).defaultMinor();
        } catch (RuntimeException e) {
            return 0;
        }
    }
}
