package io.tunshape.tc;

import java.util.List;

/** htb at the root: classes under it, unclassified traffic to {@code defaultMinor}. */
public record HtbSpec(int defaultMinor, int r2q, long directQlen, List<HtbClassSpec> classes,
                      List<U32Filter> filters, FlowQueues flows) implements QdiscSpec {
    public HtbSpec {
        classes = List.copyOf(classes);
        filters = List.copyOf(filters);
    }

    /** Without flow queues. */
    public HtbSpec(int defaultMinor, int r2q, long directQlen, List<HtbClassSpec> classes, List<U32Filter> filters) {
        this(defaultMinor, r2q, directQlen, classes, filters, null);
    }

    /** Every class: {@link #classes} and then the flow queues' leaves. */
    public List<HtbClassSpec> allClasses() {
        if (flows == null) {
            return classes;
        }
        List<HtbClassSpec> all = new java.util.ArrayList<>(classes);
        all.addAll(flows.classes());
        return all;
    }

    public HtbSpec(int defaultMinor, int r2q, long directQlen, List<HtbClassSpec> classes) {
        this(defaultMinor, r2q, directQlen, classes, List.of());
    }

    @Override
    public String kind() {
        return "htb";
    }
}
