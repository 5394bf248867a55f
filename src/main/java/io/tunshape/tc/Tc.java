package io.tunshape.tc;

/** Traffic-control constants (linux/rtnetlink.h, linux/pkt_sched.h). */
public final class Tc {
    public static final int RTM_NEWQDISC = 36;
    public static final int RTM_DELQDISC = 37;
    public static final int RTM_GETQDISC = 38;
    public static final int RTM_NEWTCLASS = 40;
    public static final int RTM_DELTCLASS = 41;
    public static final int RTM_GETTCLASS = 42;

    public static final int RTM_NEWTFILTER = 44;
    public static final int RTM_DELTFILTER = 45;
    public static final int RTM_GETTFILTER = 46;

    public static final int TCA_U32_CLASSID = 1;
    public static final int TCA_U32_HASH = 2;
    public static final int TCA_U32_LINK = 3;
    public static final int TCA_U32_DIVISOR = 4;
    public static final int TCA_U32_SEL = 5;
    public static final int TCA_U32_MAX = 12;
    public static final int TC_U32_TERMINAL = 1;
    public static final int TC_U32_OFFSET = 2;
    public static final int TC_U32_VAROFFSET = 4;
    public static final int TC_U32_EAT = 8;
    /** The flow classifier's filter priority (cls_bpf; u32: IPv4 here, IPv6 one after): after every match filter. */
    public static final int FLOW_FILTER_PRIO = 0xC000;

    // cls_bpf (linux/pkt_cls.h)
    public static final int TCA_BPF_CLASSID = 3;
    public static final int TCA_BPF_FD = 6;
    public static final int TCA_BPF_NAME = 7;
    public static final int TCA_BPF_FLAGS = 8;
    public static final int TCA_BPF_TAG = 10;
    public static final int TCA_BPF_ID = 11;
    public static final int TCA_BPF_MAX = 11;

    public static final int TCA_KIND = 1;
    public static final int TCA_OPTIONS = 2;
    public static final int TCA_STATS2 = 7;
    public static final int TCA_MAX = 16;

    public static final int TCA_STATS_BASIC = 1;
    public static final int TCA_STATS_QUEUE = 3;
    public static final int TCA_STATS_PKT64 = 8;

    public static final int TCA_TBF_PARMS = 1;
    public static final int TCA_TBF_RTAB = 2;
    public static final int TCA_TBF_RATE64 = 4;
    public static final int TCA_TBF_BURST = 6;
    public static final int TCA_TBF_MAX = 8;

    public static final int TCA_HTB_PARMS = 1;
    public static final int TCA_HTB_INIT = 2;
    public static final int TCA_HTB_CTAB = 3;
    public static final int TCA_HTB_RTAB = 4;
    public static final int TCA_HTB_DIRECT_QLEN = 5;
    public static final int TCA_HTB_RATE64 = 6;
    public static final int TCA_HTB_CEIL64 = 7;
    public static final int TCA_HTB_MAX = 9;

    public static final int TCMSG_LEN = 20;
    public static final int LINKLAYER_ETHERNET = 1;
    public static final int HTB_VERSION = 3;
    /** htb's mtu for rate tables when none is given (q_htb.c). */
    public static final int HTB_TABLE_MTU = 1600;

    private Tc() {
    }
}
