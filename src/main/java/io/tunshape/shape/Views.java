package io.tunshape.shape;

import io.tunshape.tc.BpfFilter;
import io.tunshape.tc.FlowProgram;
import io.tunshape.tc.FlowQueues;
import io.tunshape.tc.Handle;
import io.tunshape.tc.HtbClassSpec;
import io.tunshape.tc.HtbKernel;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.QdiscSpec;
import io.tunshape.tc.Stats;
import io.tunshape.tc.Tc;
import io.tunshape.tc.TbfSpec;
import io.tunshape.tc.TcCodec;
import io.tunshape.tc.TreeLayout;
import io.tunshape.tc.U32FlowHash;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A device's root qdisc as people see it, from what the kernel holds or from a plan. */
final class Views {
    private final TcCodec codec;

    Views(TcCodec codec) {
        this.codec = codec;
    }

    QdiscView view(DeviceState d) {
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
                htb = htb(d, r, classStats);
            }
        } catch (RuntimeException e) {
            // options the decoder does not understand: show the kind and counters only
            tbf = null;
            htb = null;
        }
        return new QdiscView(r.kind(), r.handle(), TreeLayout.isManaged(r), tbf, htb, r.stats(), classStats);
    }

    private HtbSpec htb(DeviceState d, QdiscInfo r, Map<Integer, Stats> classStats) {
        HtbKernel k = TcCodec.decodeHtb(r.options());
        List<HtbClassSpec> cls = new ArrayList<>();
        List<QdiscInfo> sorted = new ArrayList<>(d.classes());
        sorted.sort(Comparator.comparingLong(c -> c.handle().value()));
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
            Handle parent = TreeLayout.parentOf(c, r.handle());
            int parentMinor = parent.equals(r.handle()) ? 0 : parent.minor();
            cls.add(codec.toSpec(c.handle().minor(), parentMinor, TcCodec.decodeHtbClass(c.options()), leafLimit));
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
        return new HtbSpec((int) k.defaultMinor(), (int) k.r2q(), k.directQlen(), cls, d.filters(), flows);
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

    static QdiscView view(QdiscSpec spec) {
        if (spec instanceof TbfSpec t) {
            return new QdiscView("tbf", TreeLayout.TBF_HANDLE, true, t, null, null, Map.of());
        }
        return new QdiscView("htb", TreeLayout.HTB_HANDLE, true, null, (HtbSpec) spec, null, Map.of());
    }
}
