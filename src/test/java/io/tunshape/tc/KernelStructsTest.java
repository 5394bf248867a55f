package io.tunshape.tc;

import io.tunshape.netlink.MessageWriter;
import io.tunshape.netlink.Nl;
import io.tunshape.tc.KernelStructs.HtbGlob;
import io.tunshape.tc.KernelStructs.HtbOpt;
import io.tunshape.tc.KernelStructs.TbfQopt;
import io.tunshape.tc.KernelStructs.TcMsg;
import io.tunshape.tc.KernelStructs.TcRatespec;
import io.tunshape.tc.KernelStructs.U32Key;
import io.tunshape.tc.KernelStructs.U32Sel;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Each kernel struct reads back what it wrote, in the header's size. */
class KernelStructsTest {
    private interface Writable {
        void write(MessageWriter m);
    }

    private static ByteBuffer written(Writable w, int len) {
        MessageWriter m = new MessageWriter(0, 0);
        w.write(m);
        assertEquals(Nl.HDRLEN + len, m.length(), "struct size");
        return ByteBuffer.wrap(m.toBytes(0)).order(ByteOrder.nativeOrder()).position(Nl.HDRLEN);
    }

    @Test
    void everyStructReadsBackWhatItWrote() {
        TcMsg t = TcMsg.filter(7, Handle.of(0x101, 0), Handle.of(0x7474, 0), 3, U32Filter.ETH_P_IP);
        assertEquals(t, TcMsg.read(written(t::write, TcMsg.LEN)));
        assertEquals(3, t.prio());
        assertEquals(U32Filter.ETH_P_IP, t.protocol());
        TcRatespec r = TcRatespec.of(3, Rate.ofBytes(1200), 12, 64);
        assertEquals(r, TcRatespec.read(written(r::write, TcRatespec.LEN)));
        TbfQopt q = new TbfQopt(r, TcRatespec.NONE, 4000, 1234, 0);
        assertEquals(q, TbfQopt.read(written(q::write, TbfQopt.LEN)));
        HtbOpt o = new HtbOpt(r, r, 1, 2, 1500, 0, 7);
        assertEquals(o, HtbOpt.read(written(o::write, HtbOpt.LEN)));
        HtbGlob g = new HtbGlob(3, 10, 0x10, 0, 0);
        assertEquals(g, HtbGlob.read(written(g::write, HtbGlob.LEN)));
        U32Sel s = new U32Sel(Tc.TC_U32_VAROFFSET | Tc.TC_U32_EAT, 6, 0x0f00, 0, 0, 0, 0xfffe0000L,
                List.of(new U32Key(0x00ff0000L, 17L << 16, 8, 0), new U32Key(0x1fff, 0, 4, 0)));
        assertEquals(s, U32Sel.read(written(s::write, U32Sel.length(2))));
    }

    @Test
    void u32WordsGoOnTheWireInNetworkOrder() {
        U32Key k = new U32Key(0x0000ffffL, 698, 20, 0);
        ByteBuffer b = written(k::write, U32Key.LEN);
        // mask 0x0000ffff big-endian: 00 00 ff ff
        assertEquals(0, b.get(Nl.HDRLEN));
        assertEquals((byte) 0xff, b.get(Nl.HDRLEN + 3));
        // value 698 = 0x02ba big-endian in the low half
        assertEquals(0x02, b.get(Nl.HDRLEN + 6));
        assertEquals((byte) 0xba, b.get(Nl.HDRLEN + 7));
    }
}
