package io.tunshape.kernel;

import io.tunshape.netlink.Message;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.Netns;
import io.tunshape.netlink.Nl;
import io.tunshape.sys.Fd;
import io.tunshape.sys.Sys;
import io.tunshape.tc.Handle;
import io.tunshape.tc.Tc;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import io.tunshape.tc.Psched;
import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The daemon's one event socket (NETLINK_LISTEN_ALL_NSID): it hears every namespace its own has
 * an id for, each datagram with that id, and its own namespace's without one; a namespace without
 * an id there is not heard. The daemon gives each namespace it serves an id ({@code nsid}). Before
 * 5.15 the kernel leaves a tc change out of every socket, in any namespace, whose port id is the
 * requester's (rtnetlink_send excluded it until commit cfdf0d9ae75b); the socket's port id is one the
 * kernel never gives on its own, which the first test needs on 5.10: its own change in the served
 * namespace comes from the process's first socket there, whose port id is the process id.
 */
class AllNamespacesEventsKernelTest {
    /** Whether this kernel leaves a tc change out of a listener with the requester's port id: before 5.15. */
    static boolean leavesOutTheRequestersPortId() {
        String[] v = System.getProperty("os.version").split("[.-]");
        int major = Integer.parseInt(v[0]);
        int minor = Integer.parseInt(v[1]);
        return major < 5 || major == 5 && minor < 15;
    }

    @Test
    void aTcChangeWhoseRequesterHasTheListenersPortIdIsLeftOutBefore515AndHeardFrom515() throws Exception {
        try (KernelNs home = KernelNs.create(); KernelNs served = KernelNs.create()) {
            served.tap("s0");
            served.tap("s1");
            NetlinkSocket[] socks = Netns.run(home.name(), () -> new NetlinkSocket[] {
                NetlinkSocket.openAllNamespaces(Nl.RTMGRP_TC, 1 << 20), NetlinkSocket.open()});
            try (NetlinkSocket events = socks[0]; NetlinkSocket ids = socks[1];
                 Fd servedFd = Sys.open("/run/netns/" + served.name(), Sys.O_RDONLY | Sys.O_CLOEXEC)) {
                assertTrue(events.portId() >= NetlinkSocket.RESERVED_PORTS && events.portId() < 0,
                        "a port id the kernel gives no socket on its own: " + events.portId());
                int id = ids.nsid(servedFd);
                TcCodec codec = new TcCodec(Psched.system());
                int same = change(served, "s0", codec, 0x10, events.portId());
                int other = change(served, "s1", codec, 0x11, 0);
                assertEquals(events.portId(), same);
                List<List<Integer>> want = new ArrayList<>();
                if (!leavesOutTheRequestersPortId()) {
                    want.add(List.of(id, same, Tc.RTM_NEWQDISC, ifindex(served, "s0")));
                }
                want.add(List.of(id, other, Tc.RTM_NEWQDISC, ifindex(served, "s1")));
                assertEquals(want, heard(events), "Linux " + System.getProperty("os.version") + ": the change of "
                        + "a requester with the listener's port id is " + (want.size() == 1 ? "left out (before 5.15)"
                        : "heard (5.15 and later)") + ", another's heard");
            }
        }
    }

    @Test
    void hearsTheNamespacesItGaveAnIdEachByItsId() throws Exception {
        try (KernelNs home = KernelNs.create(); KernelNs served = KernelNs.create(); KernelNs unserved = KernelNs.create()) {
            home.tap("h0");
            served.tap("s0");
            unserved.tap("u0");
            NetlinkSocket[] socks = Netns.run(home.name(), () -> new NetlinkSocket[] {
                NetlinkSocket.openAllNamespaces(Nl.RTMGRP_TC, 1 << 20), NetlinkSocket.open()});
            try (NetlinkSocket events = socks[0]; NetlinkSocket ids = socks[1];
                 Fd servedFd = Sys.open("/run/netns/" + served.name(), Sys.O_RDONLY | Sys.O_CLOEXEC)) {
                int id = ids.nsid(servedFd);
                assertTrue(id >= 0, "an id: " + id);
                assertEquals(id, ids.nsid(servedFd), "asked again, the same id");
                String listed = home.ip("netns", "list-id");
                assertTrue(listed.contains("nsid " + id + " "), "ip netns list-id in the home namespace: " + listed);

                TcCodec codec = new TcCodec(Psched.system());
                int servedSender = change(served, "s0", codec, 0x10);
                change(unserved, "u0", codec, 0x20);
                int homeSender = change(home, "h0", codec, 0x30);

                List<List<Integer>> seen = heard(events);
                assertEquals(List.of(
                        List.of(id, servedSender, Tc.RTM_NEWQDISC, ifindex(served, "s0")),
                        List.of(-1, homeSender, Tc.RTM_NEWQDISC, ifindex(home, "h0"))), seen,
                        "the served namespace's change with its id, the home's with none, the unserved one's not at all");
            }
        }
    }

    /** What waits on {@code events}: nsid, sender, type and ifindex of each message. */
    private static List<List<Integer>> heard(NetlinkSocket events) {
        List<List<Integer>> seen = new ArrayList<>();
        int[] nsid = new int[1];
        while (events.poll(300)) {
            List<Message> ms = events.receiveEventsNow(nsid);
            if (ms == null) {
                continue;
            }
            for (Message m : ms) {
                seen.add(List.of(nsid[0], m.pid(), m.type(), m.buffer().getInt(Nl.HDRLEN + 4)));
            }
        }
        return seen;
    }

    /** Adds a bfifo root in {@code ns} from a socket of its own; returns that socket's port id. */
    private static int change(KernelNs ns, String dev, TcCodec codec, int major) throws Exception {
        return change(ns, dev, codec, major, 0);
    }

    /** As above, from a socket with port id {@code port} (0: the kernel's choice). */
    private static int change(KernelNs ns, String dev, TcCodec codec, int major, int port) throws Exception {
        int index = ifindex(ns, dev);
        return Netns.run(ns.name(), () -> {
            try (NetlinkSocket s = NetlinkSocket.open(0, port)) {
                new TcClient(s, codec).send(codec.bfifo(TcClient.ADD, index, Handle.of(major, 0), Handle.ROOT, 3000));
                return s.portId();
            }
        });
    }

    private static int ifindex(KernelNs ns, String dev) {
        return Integer.parseInt(ns.ip("-o", "link", "show", dev).split(":")[0].trim());
    }
}
