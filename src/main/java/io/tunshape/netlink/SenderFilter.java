package io.tunshape.netlink;

import io.tunshape.sys.Sys;

/**
 * A socket filter (classic BPF, SO_ATTACH_FILTER) that drops the route notifications one sender
 * caused, before they wake the socket's reader. The kernel names in each notification's
 * {@code nlmsg_pid} the port id of the socket whose request made the change, and runs a listener's
 * filter before it queues the notification there. The daemon binds the socket it makes rate changes
 * with to {@link #RATE_PORT} in every namespace it serves, so that its event sockets need not wake for
 * each of its own changes (two notifications each: the class and its leaf). A port id is unique only
 * within a namespace: the filter is right only while every namespace heard has the daemon's own socket
 * on that port id, which the daemon checks as it serves each ({@code NsEvents}).
 */
public final class SenderFilter {
    /**
     * The rate sockets' port id: in the range [-4096, -1] that the kernel's autobind never gives, and
     * far from where the event socket's search for a free port id starts ({@link NetlinkSocket#RESERVED_PORTS}).
     */
    public static final int RATE_PORT = -2;
    /** struct nlmsghdr's nlmsg_pid. */
    private static final int NLMSG_PID = 12;

    private SenderFilter() {
    }

    /** Drops every message whose sender is {@code port}; keeps the rest whole. */
    public static void attach(NetlinkSocket s, int port) {
        Sys.attachFilter(s.fd(), program(port));
    }

    /** Takes the filter off: the socket hears every sender again. */
    public static void detach(NetlinkSocket s) {
        Sys.detachFilter(s.fd());
    }

    /** The program: A = nlmsg_pid; drop when it is {@code port}. */
    static int[][] program(int port) {
        return new int[][] {
            {0x20, 0, 0, NLMSG_PID},                         // 0: A = the word at 12 (BPF_LD | BPF_W | BPF_ABS)
            {0x15, 0, 1, ProcConnector.asLoaded(port)},      // 1: A == port: 2, else 3 (BPF_JMP | BPF_JEQ | BPF_K)
            {0x06, 0, 0, 0},                                 // 2: drop (BPF_RET: 0 bytes)
            {0x06, 0, 0, -1},                                // 3: keep all of it
        };
    }
}
