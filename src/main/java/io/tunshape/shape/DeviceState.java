package io.tunshape.shape;

import io.tunshape.link.LinkInfo;
import io.tunshape.tc.BpfFilter;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.U32Filter;
import io.tunshape.tc.U32Node;

import java.util.List;

/**
 * What one device holds now: the link, its root qdisc (null for the kernel default), and, under an
 * htb root, its classes, their leaf qdiscs, its u32 match filters, its cls_bpf filters and the u32
 * objects at the flow classifier's priorities. Kept so that a failed change can be put back.
 */
public record DeviceState(LinkInfo link, QdiscInfo root, List<QdiscInfo> classes, List<QdiscInfo> children,
                          List<U32Filter> filters, List<BpfFilter> bpfFilters, List<U32Node> u32Flow) {
    public DeviceState {
        classes = List.copyOf(classes);
        children = List.copyOf(children);
        filters = List.copyOf(filters);
        bpfFilters = List.copyOf(bpfFilters);
        u32Flow = List.copyOf(u32Flow);
    }

    public DeviceState(LinkInfo link, QdiscInfo root, List<QdiscInfo> classes, List<QdiscInfo> children,
                       List<U32Filter> filters, List<BpfFilter> bpfFilters) {
        this(link, root, classes, children, filters, bpfFilters, List.of());
    }

    public DeviceState(LinkInfo link, QdiscInfo root, List<QdiscInfo> classes, List<QdiscInfo> children,
                       List<U32Filter> filters) {
        this(link, root, classes, children, filters, List.of());
    }

    public DeviceState(LinkInfo link, QdiscInfo root, List<QdiscInfo> classes, List<QdiscInfo> children) {
        this(link, root, classes, children, List.of());
    }

    public boolean isDefault() {
        return root == null;
    }
}
