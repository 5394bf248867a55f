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
 * an id there is not heard. The daemon gives each namespace it serves an id ({@code nsid}).
 */
class AllNamespacesEventsKernelTest {
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

                List<int[]> got = new ArrayList<>(); // nsid, sender, type, ifindex
                int[] nsid = new int[1];
                while (events.poll(300)) {
                    List<Message> ms = events.receiveEventsNow(nsid);
                    if (ms == null) {
                        continue;
                    }
                    for (Message m : ms) {
                        got.add(new int[] {nsid[0], m.pid(), m.type(), m.buffer().getInt(Nl.HDRLEN + 4)});
                    }
                }
                List<List<Integer>> seen = new ArrayList<>();
                for (int[] g : got) {
                    seen.add(List.of(g[0], g[1], g[2], g[3]));
                }
                assertEquals(List.of(
                        List.of(id, servedSender, Tc.RTM_NEWQDISC, ifindex(served, "s0")),
                        List.of(-1, homeSender, Tc.RTM_NEWQDISC, ifindex(home, "h0"))), seen,
                        "the served namespace's change with its id, the home's with none, the unserved one's not at all");
            }
        }
    }

    /** Adds a bfifo root in {@code ns} from a socket of its own; returns that socket's port id. */
    private static int change(KernelNs ns, String dev, TcCodec codec, int major) throws Exception {
        int index = ifindex(ns, dev);
        return Netns.run(ns.name(), () -> {
            try (NetlinkSocket s = NetlinkSocket.open()) {
                new TcClient(s, codec).send(codec.bfifo(TcClient.ADD, index, Handle.of(major, 0), Handle.ROOT, 3000));
                return s.portId();
            }
        });
    }

    private static int ifindex(KernelNs ns, String dev) {
        return Integer.parseInt(ns.ip("-o", "link", "show", dev).split(":")[0].trim());
    }
}
