package io.tunshape.netlink;

import io.tunshape.tc.Handle;
import io.tunshape.tc.Psched;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;
import io.tunshape.tc.Stats;
import io.tunshape.tc.Tc;
import io.tunshape.tc.TbfKernel;
import io.tunshape.tc.TbfSpec;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** NLMSG_ERROR layouts as the kernel sends them (facts §1), and dump decoding. */
class AckDecodingTest {
    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.nativeOrder());
    }

    private static byte[] tlv(int type, byte[] payload) {
        ByteBuffer b = le(Nl.align(4 + payload.length));
        b.putShort((short) (4 + payload.length)).putShort((short) type).put(payload);
        return b.array();
    }

    private static byte[] cstr(String s) {
        byte[] t = s.getBytes(StandardCharsets.UTF_8);
        return java.util.Arrays.copyOf(t, t.length + 1);
    }

    /** An error ack that echoes the whole request, then the extack TLVs (flags ACK_TLVS). */
    private static Message errorAck(int errno, byte[] request, byte[]... tlvs) {
        int tl = 0;
        for (byte[] t : tlvs) {
            tl += t.length;
        }
        ByteBuffer b = le(16 + 4 + request.length + tl);
        b.putInt(b.capacity()).putShort((short) Nl.NLMSG_ERROR).putShort((short) (tlvs.length > 0 ? Nl.F_ACK_TLVS : 0))
                .putInt(7).putInt(99);
        b.putInt(-errno).put(request);
        for (byte[] t : tlvs) {
            b.put(t);
        }
        return new Message(b.array());
    }

    @Test
    void errorWithExtackGivesErrnoMessageAndOffset() {
        byte[] request = new TcCodec(Psched.DEFAULT).tbf(TcClient.ADD, 3, Handle.UNSPEC, Handle.ROOT,
                new TbfSpec(Rate.ofBytes(1200), Size.of(1600), Size.of(4000), 0, 0)).toBytes(7);
        ByteBuffer off = le(4).putInt(44);
        Message m = errorAck(34, request, tlv(Nl.NLMSGERR_ATTR_MSG, cstr("Attribute failed policy validation")),
                tlv(Nl.NLMSGERR_ATTR_OFFS, off.array()));
        NetlinkException e = assertThrows(NetlinkException.class, () -> Ack.of(m));
        assertEquals(34, e.errno());
        assertEquals("Attribute failed policy validation", e.kernelMessage());
        assertEquals(44, e.offset());
        assertTrue(e.getMessage().startsWith("Attribute failed policy validation ("), e.getMessage());
    }

    @Test
    void errorWithoutExtackHasOnlyTheErrno() {
        Message m = errorAck(22, new byte[16]);
        NetlinkException e = assertThrows(NetlinkException.class, () -> Ack.of(m));
        assertEquals(22, e.errno());
        assertNull(e.kernelMessage());
        assertEquals(-1, e.offset());
    }

    @Test
    void warningOnSuccessIsReturned() {
        // success acks are capped: 16 bytes of the request header, then the TLVs (flags 0x300)
        byte[] msg = tlv(Nl.NLMSGERR_ATTR_MSG, cstr("sch_htb: quantum of class 10010 is big. Consider r2q change."));
        ByteBuffer b = le(36 + msg.length);
        b.putInt(b.capacity()).putShort((short) Nl.NLMSG_ERROR).putShort((short) (Nl.F_CAPPED | Nl.F_ACK_TLVS))
                .putInt(7).putInt(99).putInt(0);
        b.putInt(2152).putShort((short) 40).putShort((short) 0x605).putInt(7).putInt(0);
        b.put(msg);
        Ack ack = Ack.of(new Message(b.array()));
        assertEquals(java.util.List.of("sch_htb: quantum of class 10010 is big. Consider r2q change."), ack.warnings());
    }

    @Test
    void plainSuccessHasNoWarnings() {
        ByteBuffer b = le(36);
        b.putInt(36).putShort((short) Nl.NLMSG_ERROR).putShort((short) Nl.F_CAPPED).putInt(7).putInt(99).putInt(0);
        assertTrue(Ack.of(new Message(b.array())).warnings().isEmpty());
    }

    @Test
    void qdiscDumpMessageDecodes() {
        // an RTM_NEWQDISC as a dump carries it: tcmsg, KIND, OPTIONS{PARMS}, STATS2{BASIC, QUEUE}
        TcCodec codec = new TcCodec(Psched.DEFAULT);
        MessageWriter m = codec.tbf(Nl.F_MULTI, 5, Handle.of(0x7473, 0), Handle.ROOT,
                new TbfSpec(Rate.ofBytes(1200), Size.of(1600), Size.of(4000), 12, 64));
        int st = m.beginNest(Tc.TCA_STATS2);
        int basic = m.beginAttr(Tc.TCA_STATS_BASIC);
        m.u64(123456).u32(789).u32(0);
        m.endNest(basic);
        int q = m.beginAttr(Tc.TCA_STATS_QUEUE);
        m.u32(4).u32(4000).u32(15).u32(0).u32(19);
        m.endNest(q);
        m.endNest(st);
        QdiscInfo info = TcCodec.decode(new Message(m.toBytes(1)));
        assertEquals(5, info.ifindex());
        assertEquals(Handle.of(0x7473, 0), info.handle());
        assertTrue(info.isRoot());
        assertEquals("tbf", info.kind());
        assertEquals(new Stats(123456, 789, 15, 19, 0, 4000, 4), info.stats());
        TbfKernel k = TcCodec.decodeTbf(info.options());
        assertEquals(1200, k.rateBytes());
        assertEquals(4000, k.limit());
        assertEquals(12, k.overhead());
        assertEquals(64, k.mpu());
    }
}
