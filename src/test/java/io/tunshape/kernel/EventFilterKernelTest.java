package io.tunshape.kernel;

import io.tunshape.netlink.Message;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.Netns;
import io.tunshape.netlink.Nl;
import io.tunshape.tc.Handle;
import io.tunshape.tc.Psched;
import io.tunshape.tc.Tc;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The daemon's workers drop, in the kernel, the traffic-control events their own changes cause
 * (NetlinkSocket.ignoreSenders, a socket filter): only what others do wakes them.
 */
class EventFilterKernelTest {
    @Test
    void eventsFromIgnoredPortsNeverArriveAndOthersDo() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.tap("tap0").tap("tap1");
            List<int[]> seen = Netns.run(ns.name(), () -> {
                try (NetlinkSocket events = NetlinkSocket.open(Nl.RTMGRP_TC);
                     NetlinkSocket mine = NetlinkSocket.open();
                     NetlinkSocket other = NetlinkSocket.open();
                     NetlinkSocket third = NetlinkSocket.open()) {
                    events.ignoreSenders(mine.portId(), third.portId());
                    TcCodec codec = new TcCodec(Psched.system());
                    int tap0 = ifindex(ns, "tap0");
                    int tap1 = ifindex(ns, "tap1");
                    new TcClient(mine, codec).send(codec.bfifo(TcClient.ADD, tap0, Handle.of(0x10, 0), Handle.ROOT, 3000));
                    new TcClient(third, codec).send(codec.bfifo(TcClient.CHANGE, tap0, Handle.of(0x10, 0), Handle.ROOT, 4000));
                    new TcClient(other, codec).send(codec.bfifo(TcClient.ADD, tap1, Handle.of(0x20, 0), Handle.ROOT, 5000));
                    List<int[]> got = new ArrayList<>();
                    while (events.poll(300)) {
                        for (Message m : events.receiveEvents()) {
                            got.add(new int[] {m.pid(), m.type(), m.buffer().getInt(Nl.HDRLEN + 4)});
                        }
                    }
                    got.add(new int[] {other.portId(), Tc.RTM_NEWQDISC, tap1}); // what was expected, last
                    return got;
                }
            });
            int[] want = seen.remove(seen.size() - 1);
            assertEquals(1, seen.size(), "only the other socket's qdisc event arrives");
            assertEquals(List.of(want[0], want[1], want[2]), List.of(seen.get(0)[0], seen.get(0)[1], seen.get(0)[2]));
            // both of the ignored ones' changes did happen
            String q = ns.tc("qdisc", "show", "dev", "tap0");
            assertEquals(true, q.contains("bfifo 10: root") && q.contains("limit 4000b"), q);
        }
    }

    private static int ifindex(KernelNs ns, String dev) {
        return Integer.parseInt(ns.ip("-o", "link", "show", dev).split(":")[0].trim());
    }
}
