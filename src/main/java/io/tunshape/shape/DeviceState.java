package io.tunshape.shape;

import io.tunshape.link.LinkInfo;
import io.tunshape.tc.QdiscInfo;

import java.util.List;

/**
 * What one device holds now: the link, its root qdisc (null for the kernel default), and, under an
 * htb root, its classes and their leaf qdiscs. Kept so that a failed change can be put back.
 */
public record DeviceState(LinkInfo link, QdiscInfo root, List<QdiscInfo> classes, List<QdiscInfo> children) {
    public DeviceState {
        classes = List.copyOf(classes);
        children = List.copyOf(children);
    }

    public boolean isDefault() {
        return root == null;
    }
}
