package io.tunshape.tc;

import java.util.List;

/** htb at the root: classes under it, unclassified traffic to {@code defaultMinor}. */
public record HtbSpec(int defaultMinor, int r2q, long directQlen, List<HtbClassSpec> classes) implements QdiscSpec {
    public HtbSpec {
        classes = List.copyOf(classes);
    }

    @Override
    public String kind() {
        return "htb";
    }
}
