package io.tunshape.tc;

/** One qdisc or class from a dump: where it sits, its kind, its raw options, and its counters. */
public record QdiscInfo(int ifindex, Handle handle, Handle parent, String kind, byte[] options, Stats stats) {
    public boolean isRoot() {
        return parent.equals(Handle.ROOT);
    }
}
