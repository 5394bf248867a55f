package io.tunshape.kernel;

import io.tunshape.netlink.NetlinkException;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.Netns;
import io.tunshape.tc.Handle;
import io.tunshape.tc.HtbClassSpec;
import io.tunshape.tc.HtbRateTemplate;
import io.tunshape.tc.Psched;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;
import io.tunshape.tc.TcCodec;
import io.tunshape.tc.TreeLayout;
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
            int ix = shapedTun(ns);
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

    /**
     * {@link NetlinkSocket#requestBatch(java.nio.ByteBuffer)}: the daemon's change as {@link
     * HtbRateTemplate} rewrites it, sent from the template's own bytes with the sequence numbers
     * written in place; the kernel holds the new rate and limit, a refusal is thrown with the kernel's
     * errno, and the socket stays in step.
     */
    @Test
    void aTemplateRewrittenInPlaceIsOneDatagramAndItsRefusalIsThrown() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            int ix = shapedTun(ns);
            TcCodec codec = new TcCodec(Psched.system());
            HtbRateTemplate t = HtbRateTemplate.of(codec, ix, CLASS, TreeLayout.HTB_HANDLE, spec(125_000, 100_000), LEAF);
            HtbRateTemplate missing = HtbRateTemplate.of(codec, ix, Handle.of(0x7474, 9), TreeLayout.HTB_HANDLE,
                    spec(125_000, 100_000), Handle.of(0x7509, 0));
            Netns.run(ns.name(), () -> {
                try (NetlinkSocket s = NetlinkSocket.open()) {
                    TcClient tc = new TcClient(s, codec);
                    for (long bytes : new long[] {250_000, 375_000}) {
                        long before = s.requestsSent();
                        java.nio.ByteBuffer sent = t.at(spec(bytes, bytes / 5));
                        tc.sendAll(sent);
                        assertEquals(2, s.requestsSent() - before, "two messages");
                        int second = io.tunshape.netlink.Nl.align(sent.getInt(0));
                        assertEquals(0, sent.getShort(6) & io.tunshape.netlink.Nl.F_ACK, "no ACK asked for the first");
                        assertEquals(io.tunshape.netlink.Nl.F_ACK, sent.getShort(second + 6) & io.tunshape.netlink.Nl.F_ACK,
                                "the ACK asked for the last");
                        String classes = ns.tc("class", "show", "dev", "t0");
                        assertTrue(classes.contains("rate " + bytes * 8 / 1000 + "Kbit")
                                || classes.contains("rate " + bytes * 8 / 1_000_000 + "Mbit"), classes);
                        String qdiscs = ns.tc("qdisc", "show", "dev", "t0");
                        assertTrue(qdiscs.contains("limit " + bytes / 5 + "b"), qdiscs);
                    }
                    NetlinkException refused = assertThrows(NetlinkException.class,
                            () -> tc.sendAll(missing.at(spec(250_000, 1000))));
                    assertEquals(io.tunshape.sys.Errno.ENOENT, refused.errno(), "no such class: " + refused);
                    tc.send(leaf(codec, ix, LEAF, 150_000)); // in step: no answer of the batch is taken for this one's
                    assertTrue(ns.tc("qdisc", "show", "dev", "t0").contains("limit 150000b"));
                }
                return null;
            });
        }
    }

    /** A tun device t0 in {@code ns} shaped by apply (htb at 1mbit: class 7474:1, its bfifo leaf 7501:); its ifindex. */
    private static int shapedTun(KernelNs ns) throws Exception {
        ns.tun("t0");
        CliRun applied = CliRun.of("--netns", ns.name(), "apply", "t0", "--rate", "1mbit", "--qdisc", "htb");
        assertEquals(0, applied.status(), applied.toString());
        return Integer.parseInt(ns.ip("-o", "link", "show", "t0").split(":")[0].trim());
    }

    /** The link class at {@code bytesPerSecond}, its leaf's limit {@code limit}. */
    private static HtbClassSpec spec(long bytesPerSecond, long limit) {
        Rate r = Rate.ofBytes(bytesPerSecond);
        return new HtbClassSpec(1, 0, r, r, Size.of(1600), Size.of(1600), 0, 1514, 0, 0, Size.of(limit), null);
    }

    private static io.tunshape.netlink.MessageWriter leaf(TcCodec codec, int ix, Handle h, long limit) {
        return codec.bfifo(TcClient.CHANGE, ix, h, CLASS, limit);
    }
}
