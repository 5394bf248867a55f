package io.tunshape.fuzz;

import io.tunshape.link.LinkClient;
import io.tunshape.netlink.Ack;
import io.tunshape.netlink.Attrs;
import io.tunshape.netlink.MalformedMessageException;
import io.tunshape.netlink.Message;
import io.tunshape.netlink.MessageWriter;
import io.tunshape.netlink.NetlinkException;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.Nl;
import io.tunshape.tc.Handle;
import io.tunshape.tc.Tc;
import io.tunshape.tc.TcCodec;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the netlink fuzzing found, kept: each input read past its attribute or message (an
 * IndexOutOfBoundsException, or worse, the bytes of the next attribute taken as a value) before the
 * decoders checked lengths; now each is a MalformedMessageException that says what is wrong.
 */
class NetlinkRegressionTest {
    private static Message msg(MessageWriter w) {
        return new Message(w.toBytes(1));
    }

    private static byte[] bytes(String hex) {
        return HexFormat.of().parseHex(hex);
    }

    @Test
    void firstFuzzFindingAU32ReadOfAShortAttributeIsMalformed() {
        // found by attributesNeverReadOutsideTheirBounds: IndexOutOfBoundsException in Attrs.u32
        byte[] in = bytes("340000002c00020022000e6bc2750000000000000f0000003e000000000074740800050008000100"
                + "753332ff08000b0000000000");
        Fuzz.check("regression", in, 64, () -> NetlinkFuzzTest.readAllAttributes(in), NetlinkException.class);
        MessageWriter w = new MessageWriter(Tc.RTM_NEWQDISC, 0);
        w.u8(0).u8(0).u16(0).u32(1).u32(0).u32(0).u32(0).attr(5, new byte[] {1, 2});
        Attrs a = msg(w).attrs(Tc.TCMSG_LEN, 5);
        MalformedMessageException e = assertThrows(MalformedMessageException.class, () -> a.u32(5));
        assertTrue(e.getMessage().contains("u32 attribute 5 has 2 bytes"), e.getMessage());
    }

    @Test
    void tbfOptionsWithoutParametersAreMalformedInsteadOfReadFromOffsetMinusOne() {
        MessageWriter o = new MessageWriter(0, 0);
        o.attrU64(Tc.TCA_TBF_RATE64, 1_000_000);
        byte[] opts = java.util.Arrays.copyOfRange(o.toBytes(1), Nl.HDRLEN, o.length());
        MalformedMessageException e = assertThrows(MalformedMessageException.class, () -> TcCodec.decodeTbf(opts));
        assertTrue(e.getMessage().contains("tbf parameters (TCA_TBF_PARMS) is missing"), e.getMessage());
        MessageWriter shortParms = new MessageWriter(0, 0);
        shortParms.attr(Tc.TCA_TBF_PARMS, new byte[20]);
        byte[] s = java.util.Arrays.copyOfRange(shortParms.toBytes(1), Nl.HDRLEN, shortParms.length());
        assertThrows(MalformedMessageException.class, () -> TcCodec.decodeTbf(s));
        assertThrows(MalformedMessageException.class, () -> TcCodec.decodeHtb(s));
        assertThrows(MalformedMessageException.class, () -> TcCodec.decodeHtbClass(s));
    }

    @Test
    void aU32SelectorClaimingMoreKeysThanItHoldsIsMalformed() {
        MessageWriter w = TcCodec.tcmsg(Tc.RTM_NEWTFILTER, 0, 3, Handle.UNSPEC, Handle.of(0x7474, 0));
        w.attrString(Tc.TCA_KIND, "u32");
        int opts = w.beginNest(Tc.TCA_OPTIONS);
        w.attrU32(Tc.TCA_U32_CLASSID, 0x74740001L);
        byte[] sel = new byte[16];
        sel[2] = (byte) 255; // nkeys, with no key behind it
        w.attr(Tc.TCA_U32_SEL, sel);
        w.endNest(opts);
        MalformedMessageException e = assertThrows(MalformedMessageException.class, () -> TcCodec.decodeU32Node(msg(w)));
        assertTrue(e.getMessage().contains("255 keys"), e.getMessage());
    }

    @Test
    void aLinkWithoutANameOrShorterThanItsHeaderIsMalformed() {
        MessageWriter w = new MessageWriter(LinkClient.RTM_NEWLINK, 0);
        w.u8(0).u8(0).u16(0).u32(7).u32(0).u32(0).attrU32(4 /* IFLA_MTU */, 1500);
        MalformedMessageException e = assertThrows(MalformedMessageException.class, () -> LinkClient.decode(msg(w)));
        assertTrue(e.getMessage().contains("without a name"), e.getMessage());
        MessageWriter shortOne = new MessageWriter(LinkClient.RTM_NEWLINK, 0);
        shortOne.u32(7);
        assertThrows(MalformedMessageException.class, () -> LinkClient.decode(msg(shortOne)));
        assertThrows(MalformedMessageException.class, () -> TcCodec.decode(msg(shortOne)));
    }

    @Test
    void anErrorWhoseEchoLengthLiesKeepsItsErrnoAndReadsNoTlvs() {
        MessageWriter w = new MessageWriter(Nl.NLMSG_ERROR, Nl.F_ACK_TLVS);
        w.u32(-22 & 0xFFFFFFFFL).u32(0xFFFFFFF0L).u16(44).u16(5).u32(1).u32(2); // echo length -16
        w.attrString(Nl.NLMSGERR_ATTR_MSG, "x");
        NetlinkException e = assertThrows(NetlinkException.class, () -> Ack.of(msg(w)));
        assertEquals(22, e.errno());
        MessageWriter tiny = new MessageWriter(Nl.NLMSG_ERROR, 0);
        tiny.u32(0);
        assertThrows(MalformedMessageException.class, () -> Ack.of(msg(tiny)));
    }

    @Test
    void shortStatisticsAreMalformed() {
        MessageWriter w = TcCodec.tcmsg(Tc.RTM_NEWQDISC, 0, 3, Handle.of(0x7473, 0), Handle.ROOT);
        w.attrString(Tc.TCA_KIND, "tbf");
        int st = w.beginNest(Tc.TCA_STATS2);
        w.attr(Tc.TCA_STATS_BASIC, new byte[4]);
        w.endNest(st);
        MalformedMessageException e = assertThrows(MalformedMessageException.class, () -> TcCodec.decode(msg(w)));
        assertTrue(e.getMessage().contains("TCA_STATS_BASIC"), e.getMessage());
    }
    /**
     * Found by Jazzer (JazzerFuzzTest#netlink, coverage-guided) after 509,000 runs: an htb class
     * dumped with a ceil of 10^16 bytes/s and 1.65e9 cbuffer ticks. show's view worked the burst out
     * a byte at a time from an estimate, and at that rate one tick is 640 million bytes: over a
     * minute of CPU (the fuzz watchdog stopped it at 10 s). Now a gallop and a bisection: milliseconds.
     */
    @Test
    void anHtbClassWithAHugeCeilIsShownAtOnce() throws Exception {
        byte[] in = java.nio.file.Files.readAllBytes(java.nio.file.Path.of(NetlinkFuzzTest.CORPUS,
                "crash-a8b84a6394c0723e3d456181596662f97990f306"));
        io.tunshape.tc.HtbClassKernel k = TcCodec.decodeHtbClass(in);
        assertEquals(10_133_099_236_073_984L, k.ceilBytes());
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(5),
                () -> Fuzz.check("regression", in, 64, () -> NetlinkFuzzTest.decodeOptions(in), NetlinkException.class));
    }

    /** The bisection's answer is the old search's: the smallest size whose ticks reach the target. */
    @Test
    void htbBurstIsTheSmallestSizeWhoseTicksReachTheDumpedTicks() {
        TcCodec codec = new TcCodec(io.tunshape.tc.Psched.DEFAULT);
        io.tunshape.tc.Psched p = io.tunshape.tc.Psched.DEFAULT;
        java.util.Random r = new java.util.Random(14);
        for (int i = 0; i < 2_000; i++) {
            long rate = 1 + (long) Math.pow(10, r.nextDouble() * 16.5);
            long ticks = i % 2 == 0 ? p.xmitTicks(rate, r.nextInt(10_000_000)) : 1 + (r.nextLong() & 0xFFFFFFFFL);
            long burst = codec.htbBurstBytes(rate, ticks);
            assertTrue(p.xmitTicks(rate, burst) >= ticks, rate + " B/s, " + ticks + " ticks: " + burst + " falls short");
            assertTrue(burst == 0 || p.xmitTicks(rate, burst - 1) < ticks,
                    rate + " B/s, " + ticks + " ticks: " + burst + " is not the smallest");
        }
    }
}
