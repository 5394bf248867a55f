package io.tunshape.tc;

import java.util.ArrayList;
import java.util.List;

/**
 * Flow queues under an htb class: {@code count} leaf classes (minors {@code firstMinor} on, each
 * like {@code leaf}) under the class {@code parentMinor}, and the classifier at {@code filterPrio}
 * that spreads packets over them: the cls_bpf program ({@link FlowProgram}: the kernel's flow hash), or
 * where eBPF is refused, u32 hash tables on the source port ({@link U32FlowHash}, at {@code filterPrio}
 * and the one after). htb serves leaves of the same priority in turn, {@code leaf.quantum()} bytes at a
 * time: deficit round robin.
 */
public record FlowQueues(int count, int parentMinor, int firstMinor, HtbClassSpec leaf, int filterPrio,
                         Classifier classifier) {
    /** What spreads packets over the queues. */
    public enum Classifier {
        /** cls_bpf running {@link FlowProgram}. */
        BPF,
        /** u32 hash tables, {@link U32FlowHash}: the fallback where eBPF is refused. */
        U32;

        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** The leaf classes, in order. */
    public List<HtbClassSpec> classes() {
        List<HtbClassSpec> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(new HtbClassSpec(firstMinor + i, parentMinor, leaf.rate(), leaf.ceil(), leaf.burst(),
                    leaf.cburst(), leaf.prio(), leaf.quantum(), leaf.overhead(), leaf.mpu(), leaf.limit(), null));
        }
        return out;
    }

    public FlowProgram program(int major) {
        return new FlowProgram(count, Handle.of(major, firstMinor));
    }

    public U32FlowHash u32() {
        return new U32FlowHash(count, firstMinor, filterPrio);
    }
}
