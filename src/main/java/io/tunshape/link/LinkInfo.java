package io.tunshape.link;

/**
 * An interface as RTM_NEWLINK describes it. {@code kind} is "tun" or "tap" for tun/tap devices (told
 * apart by IFLA_TUN_TYPE), otherwise the link kind ("veth", ...) or "" for devices without one.
 */
public record LinkInfo(int index, String name, String kind, int arphrdType, int flags, String operState, int mtu,
                       long txqueuelen, long txDropped, long txPackets, long txBytes) {
    public static final int ARPHRD_ETHER = 1;

    public boolean isTunTap() {
        return kind.equals("tun") || kind.equals("tap");
    }

    /** Bytes of link-layer header the qdisc sees in front of the MTU: 14 on Ethernet (tap), 0 on tun. */
    public int linkHeader() {
        return arphrdType == ARPHRD_ETHER ? 14 : 0;
    }

    /** The largest frame the qdisc can be handed. */
    public int maxFrame() {
        return mtu + linkHeader();
    }
}
