package io.tunshape.shape;

import io.tunshape.tc.BpfFilter;
import io.tunshape.tc.FlowProgram;
import io.tunshape.tc.FlowQueues;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.TreeLayout;
import io.tunshape.tc.U32Filter;
import io.tunshape.tc.U32Node;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;

/**
 * The filters under an htb root, as they can be compared: the u32 objects of the match filters, the
 * cls_bpf filters (tunshape's by the flow program they run, another's by name, tag and flags: not by
 * the program's id, which a reload changes) and the u32 objects of the flow classifier. Filters are
 * never changed in place: when two sets differ, all are removed and the wanted ones added.
 */
record FilterSet(List<U32Node> u32, List<List<Object>> bpf, List<U32Node> u32Flow) {
    static final FilterSet NONE = new FilterSet(List.of(), List.of(), List.of());

    /** What a device holds. */
    static FilterSet held(DeviceState d) {
        List<List<Object>> bpf = new ArrayList<>();
        for (BpfFilter f : d.bpfFilters()) {
            FlowProgram p = f.flowProgram();
            bpf.add(p != null ? List.of(f.prio(), f.protocol(), p)
                    : java.util.Arrays.asList(f.prio(), f.protocol(), f.name(), f.tag(), f.flags()));
        }
        return new FilterSet(d.u32(), bpf, d.u32Flow());
    }

    /** What tunshape's htb of plan {@code h} holds. */
    static FilterSet wanted(HtbSpec h) {
        List<U32Node> u32 = U32Filter.nodes(h.filters(), TreeLayout.HTB_MAJOR);
        FlowQueues fq = h.flows();
        if (fq == null) {
            return new FilterSet(u32, List.of(), List.of());
        }
        if (fq.classifier() == FlowQueues.Classifier.U32) {
            return new FilterSet(u32, List.of(), fq.u32().nodes(TreeLayout.HTB_MAJOR));
        }
        return new FilterSet(u32, List.of(List.of(fq.filterPrio(), BpfFilter.ETH_P_ALL,
                fq.program(TreeLayout.HTB_MAJOR))), List.of());
    }

    boolean isEmpty() {
        return u32.isEmpty() && bpf.isEmpty() && u32Flow.isEmpty();
    }

    /** The filter-difference check: the same objects, in any order. */
    boolean same(FilterSet o) {
        return U32Filter.sameObjects(u32, o.u32) && bpf.size() == o.bpf.size()
                && new HashSet<>(bpf).equals(new HashSet<>(o.bpf)) && U32Filter.sameObjects(u32Flow, o.u32Flow);
    }
}
