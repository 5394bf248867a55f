package io.tunshape.shape;

import io.tunshape.link.LinkInfo;
import io.tunshape.tc.BpfFilter;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.TreeLayout;
import io.tunshape.tc.U32Filter;
import io.tunshape.tc.U32Node;

import java.util.List;

/**
 * What one device holds now: the link, its root qdisc (null for the kernel default), and, under an
 * htb root, its classes, their leaf qdiscs, the u32 objects of its match filters, its cls_bpf filters
 * and the u32 objects at the flow classifier's priorities. Kept so that a failed change can be put back.
 */
public record DeviceState(LinkInfo link, QdiscInfo root, List<QdiscInfo> classes, List<QdiscInfo> children,
                          List<U32Node> u32, List<BpfFilter> bpfFilters, List<U32Node> u32Flow) {
    public DeviceState {
        classes = List.copyOf(classes);
        children = List.copyOf(children);
        u32 = List.copyOf(u32);
        bpfFilters = List.copyOf(bpfFilters);
        u32Flow = List.copyOf(u32Flow);
    }

    /** A device that holds a root (or none) and nothing under it. */
    public static DeviceState bare(LinkInfo link, QdiscInfo root) {
        return new DeviceState(link, root, List.of(), List.of(), List.of(), List.of(), List.of());
    }

    public boolean isDefault() {
        return root == null;
    }

    /** The match filters its u32 objects are (those tunshape could have made; see {@link U32Filter#recognise}). */
    public List<U32Filter> filters() {
        return U32Filter.recognise(u32, root == null ? TreeLayout.HTB_MAJOR : root.handle().major());
    }
}
