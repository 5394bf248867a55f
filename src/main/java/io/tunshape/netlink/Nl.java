package io.tunshape.netlink;

/** Netlink protocol constants (linux/netlink.h, linux/rtnetlink.h). */
public final class Nl {
    public static final int AF_NETLINK = 16;
    public static final int NETLINK_ROUTE = 0;
    public static final int SOL_NETLINK = 270;
    public static final int NETLINK_ADD_MEMBERSHIP = 1;
    public static final int NETLINK_EXT_ACK = 11;
    /** Multicasts from every namespace that has an id here, each with its id (a control message). */
    public static final int NETLINK_LISTEN_ALL_NSID = 8;
    /** Namespace ids (linux/net_namespace.h): one namespace's id for another, as `ip netns set` gives. */
    public static final int RTM_NEWNSID = 88;
    public static final int RTM_GETNSID = 90;
    public static final int NETNSA_NSID = 1;
    public static final int NETNSA_FD = 3;

    public static final int HDRLEN = 16;
    /** Multicast groups as bind masks: link events, traffic-control events. */
    public static final int RTMGRP_LINK = 1;
    public static final int RTMGRP_TC = 8;

    public static final int NLMSG_NOOP = 1;
    public static final int NLMSG_ERROR = 2;
    public static final int NLMSG_DONE = 3;
    public static final int NLMSG_OVERRUN = 4;

    public static final int F_REQUEST = 0x1;
    public static final int F_MULTI = 0x2;
    public static final int F_ACK = 0x4;
    /** Asks the kernel to send its notification of the request to the requester too (tc gets answer only so). */
    public static final int F_ECHO = 0x8;
    public static final int F_DUMP_INTR = 0x10;
    public static final int F_DUMP = 0x300;
    public static final int F_REPLACE = 0x100;
    public static final int F_EXCL = 0x200;
    public static final int F_CREATE = 0x400;
    public static final int F_CAPPED = 0x100;
    public static final int F_ACK_TLVS = 0x200;

    public static final int NLMSGERR_ATTR_MSG = 1;
    public static final int NLMSGERR_ATTR_OFFS = 2;

    public static final int NLA_TYPE_MASK = 0x3FFF;

    private Nl() {
    }

    public static int align(int n) {
        return (n + 3) & ~3;
    }
}
