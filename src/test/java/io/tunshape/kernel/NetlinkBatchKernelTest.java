package io.tunshape.kernel;

import io.tunshape.netlink.NetlinkException;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.Netns;
import io.tunshape.tc.Handle;
import io.tunshape.tc.Psched;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link NetlinkSocket#requestBatch}, the daemon's rate change (a class and its leaf in one datagram,
 * one ACK): the kernel handles every message in order, a refusal of any is thrown whether it asked
 * for an ACK or not, the messages after a refused one are still handled, and the socket stays in step
 * for the next request.
 */
class NetlinkBatchKernelTest {
    private static final Handle CLASS = Handle.of(0x7474, 1);
    private static final Handle LEAF = Handle.of(0x7501, 0);
    private static final Handle NO_LEAF = Handle.of(0x7599, 0);

    @Test
    void oneDatagramOneAckEveryRefusalThrownAndTheRestStillHandled() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            CliRun applied = CliRun.of("--netns", ns.name(), "apply", "t0", "--rate", "1mbit", "--qdisc", "htb");
            assertEquals(0, applied.status(), applied.toString());
            int ix = Integer.parseInt(ns.ip("-o", "link", "show", "t0").split(":")[0].trim());
            TcCodec codec = new TcCodec(Psched.system());
            Netns.run(ns.name(), () -> {
                try (NetlinkSocket s = NetlinkSocket.open()) {
                    TcClient tc = new TcClient(s, codec);
                    long before = s.requestsSent();
                    tc.sendAll(List.of(leaf(codec, ix, LEAF, 100_000), leaf(codec, ix, LEAF, 120_000)));
                    assertEquals(2, s.requestsSent() - before, "two messages");
                    assertTrue(ns.tc("qdisc", "show", "dev", "t0").contains("limit 120000b"), "in order: the last one holds");

                    NetlinkException first = assertThrows(NetlinkException.class,
                            () -> tc.sendAll(List.of(leaf(codec, ix, NO_LEAF, 1000), leaf(codec, ix, LEAF, 130_000))));
                    assertEquals(io.tunshape.sys.Errno.EEXIST, first.errno(), "a message without ACK asked: " + first);
                    assertTrue(first.getMessage().contains("NLM_F_REPLACE"), "the kernel's own words: " + first);
                    assertTrue(ns.tc("qdisc", "show", "dev", "t0").contains("limit 130000b"), "the one after it handled");

                    NetlinkException last = assertThrows(NetlinkException.class,
                            () -> tc.sendAll(List.of(leaf(codec, ix, LEAF, 140_000), leaf(codec, ix, NO_LEAF, 1000))));
                    assertEquals(io.tunshape.sys.Errno.EEXIST, last.errno(), "the last one: " + last);
                    assertTrue(ns.tc("qdisc", "show", "dev", "t0").contains("limit 140000b"));

                    tc.send(leaf(codec, ix, LEAF, 150_000)); // in step: no answer of the batches is taken for this one's
                    assertTrue(ns.tc("qdisc", "show", "dev", "t0").contains("limit 150000b"));
                }
                return null;
            });
        }
    }

    private static io.tunshape.netlink.MessageWriter leaf(TcCodec codec, int ix, Handle h, long limit) {
        return codec.bfifo(TcClient.CHANGE, ix, h, CLASS, limit);
    }
}
