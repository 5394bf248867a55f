package io.tunshape.tc;

import java.util.ArrayList;
import java.util.List;

/**
 * Flow queues under an htb class: {@code count} leaf classes (minors {@code firstMinor} on, each
 * like {@code leaf}) under the class {@code parentMinor}, and the cls_bpf filter at {@code filterPrio}
 * that spreads packets over them by flow hash ({@link FlowProgram}). htb serves leaves of the same
 * priority in turn, {@code leaf.quantum()} bytes at a time: deficit round robin.
 */
public record FlowQueues(int count, int parentMinor, int firstMinor, HtbClassSpec leaf, int filterPrio) {
    /** The leaf classes, in order. */
    public List<HtbClassSpec> classes() {
        List<HtbClassSpec> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(new HtbClassSpec(firstMinor + i, parentMinor, leaf.rate(), leaf.ceil(), leaf.burst(),
                    leaf.cburst(), leaf.prio(), leaf.quantum(), leaf.overhead(), leaf.mpu(), leaf.limit(), null));
        }
        return out;
    }

    public boolean isLeaf(int minor) {
        return minor >= firstMinor && minor < firstMinor + count;
    }

    public FlowProgram program(int major) {
        return new FlowProgram(count, Handle.of(major, firstMinor));
    }
}
