package io.tunshape.tc;

import java.util.List;

/** htb at the root: classes under it, unclassified traffic to {@code defaultMinor}. */
public record HtbSpec(int defaultMinor, int r2q, long directQlen, List<HtbClassSpec> classes,
                      List<U32Filter> filters) implements QdiscSpec {
    public HtbSpec {
        classes = List.copyOf(classes);
        filters = List.copyOf(filters);
    }

    public HtbSpec(int defaultMinor, int r2q, long directQlen, List<HtbClassSpec> classes) {
        this(defaultMinor, r2q, directQlen, classes, List.of());
    }

    @Override
    public String kind() {
        return "htb";
    }
}
