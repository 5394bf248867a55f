package io.tunshape.tc;

/**
 * A cls_bpf filter as a dump shows it: its priority and protocol (ethertype; 0x0003 all), the name
 * it was given, the kernel's tag and id of its program, and its flags (1: direct action).
 * tunshape's own is recognised by name and tag together ({@link FlowProgram}).
 */
public record BpfFilter(int prio, int protocol, String name, String tag, long programId, long flags) {
    public static final int ETH_P_ALL = 0x0003;

    /** The flow program this filter runs, when it is tunshape's (its name says which and its tag agrees); else null. */
    public FlowProgram flowProgram() {
        FlowProgram p = FlowProgram.fromFilterName(name);
        return p != null && flags == 0 && p.matchesTag(tag) ? p : null;
    }
}
