package io.tunshape.profile;

/** What the planner needs to know of a device: its largest frame and its current ring size. */
public record Device(String name, int mtu, int linkHeader, long txqueuelen) {
    public int maxFrame() {
        return mtu + linkHeader;
    }
}
