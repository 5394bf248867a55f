package io.tunshape.tc;

import io.tunshape.netlink.MessageWriter;
import io.tunshape.netlink.Nl;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A template rewritten for a class gives, byte for byte, the messages the codec writes for that class
 * (what FastRateChange sends: the class change without rate tables, its leaf's limit, the ACK on the last).
 */
class HtbRateTemplateTest {
    private static final TcCodec CODEC = new TcCodec(Psched.DEFAULT);
    private static final Handle CLASS = TreeLayout.classHandle(1);
    private static final Handle PARENT = TreeLayout.HTB_HANDLE;
    private static final Handle LEAF = TreeLayout.leafHandle(1);

    private static HtbClassSpec spec(long bytesPerSecond, long burst, int quantum, Long limit, int prio, int overhead,
                                     int mpu) {
        Rate r = Rate.ofBytes(bytesPerSecond);
        return new HtbClassSpec(1, 0, r, r, Size.of(burst), Size.of(burst), prio, quantum, overhead, mpu,
                limit == null ? null : Size.of(limit), null);
    }

    /** What the codec writes for {@code c}: the class change, then its leaf's. */
    private static byte[] codec(int ifindex, HtbClassSpec c) {
        byte[] cls = CODEC.htbClass(TcClient.CHANGE, ifindex, CLASS, PARENT, c, false).toBytes(0);
        if (c.limit() == null) {
            return cls;
        }
        byte[] leaf = CODEC.bfifo(TcClient.CHANGE, ifindex, LEAF, CLASS, c.limit().bytes()).toBytes(0);
        ByteBuffer b = ByteBuffer.allocate(cls.length + leaf.length).order(java.nio.ByteOrder.nativeOrder());
        b.put(cls).put(leaf);
        return b.array();
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    @Test
    void rewrittenForAnyRateItIsWhatTheCodecWrites() {
        Random random = new Random(23);
        for (boolean leaf : new boolean[] {true, false}) {
            HtbClassSpec first = spec(125_000, 1600, 1514, leaf ? 26_600L : null, 0, 14, 0);
            HtbRateTemplate t = HtbRateTemplate.of(CODEC, 7, CLASS, PARENT, first, LEAF);
            assertArrayEquals(codec(7, first), bytes(t.at(first)), "as built");
            for (int i = 0; i < 2000; i++) {
                long rate = 1 + (long) Math.pow(10, 2 + 7.5 * random.nextDouble()); // 100 B/s to about 3 GB/s
                HtbClassSpec c = spec(rate, 1 + random.nextInt(1 << 20), 1 + random.nextInt(200_000),
                        leaf ? Long.valueOf(1 + random.nextInt(Integer.MAX_VALUE)) : null, 0, 14, 0);
                assertArrayEquals(codec(7, c), bytes(t.at(c)), c.toString());
            }
        }
    }

    @Test
    void priorityOverheadAndMpuAreWrittenAsTheClassGivesThem() {
        // the whole tc_htb_opt is rewritten from the class given (the daemon's keep those of the pass)
        HtbClassSpec c = spec(1_000_000, 3000, 60_000, 50_000L, 0, 0, 0);
        HtbRateTemplate t = HtbRateTemplate.of(CODEC, 12, CLASS, PARENT, c, LEAF);
        HtbClassSpec faster = spec(2_500_000, 5000, 200_000, 80_000L, 3, 24, 64);
        assertArrayEquals(codec(12, faster), bytes(t.at(faster)));
        byte[] m = bytes(t.at(faster));
        assertEquals(Nl.F_REQUEST | Nl.F_ACK, ByteBuffer.wrap(m).order(java.nio.ByteOrder.nativeOrder())
                .getShort(Nl.align(ByteBuffer.wrap(m).order(java.nio.ByteOrder.nativeOrder()).getInt(0)) + 6),
                "the last message asks for the ACK");
    }

    @Test
    void ratesThatNeedSixtyFourBitsAreRefused() {
        HtbClassSpec big = spec(1L << 32, 100_000, 200_000, 1_000_000L, 0, 0, 0);
        assertFalse(HtbRateTemplate.fits(big));
        assertThrows(IllegalArgumentException.class, () -> HtbRateTemplate.of(CODEC, 3, CLASS, PARENT, big, LEAF));
        HtbClassSpec small = spec((1L << 32) - 1, 100_000, 200_000, 1_000_000L, 0, 0, 0);
        assertTrue(HtbRateTemplate.fits(small));
        HtbRateTemplate t = HtbRateTemplate.of(CODEC, 3, CLASS, PARENT, small, LEAF);
        assertArrayEquals(codec(3, small), bytes(t.at(small)));
        assertThrows(IllegalArgumentException.class, () -> t.at(big));
    }

    @Test
    void structsPutAsTheyAreWritten() {
        // write(MessageWriter) goes through put(ByteBuffer): one layout for both
        KernelStructs.HtbOpt o = CODEC.htbOpt(spec(12_345, 1600, 1514, null, 2, 14, 0));
        MessageWriter m = new MessageWriter(0, 0);
        o.write(m);
        ByteBuffer b = ByteBuffer.allocate(KernelStructs.HtbOpt.LEN).order(java.nio.ByteOrder.nativeOrder());
        o.put(b);
        byte[] written = m.toBytes(0);
        byte[] tail = java.util.Arrays.copyOfRange(written, Nl.HDRLEN, Nl.HDRLEN + KernelStructs.HtbOpt.LEN);
        assertArrayEquals(b.array(), tail);
        b.flip();
        assertEquals(o, KernelStructs.HtbOpt.read(b));
    }
}
