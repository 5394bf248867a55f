package io.tunshape.tc;

import io.tunshape.netlink.MessageWriter;
import io.tunshape.netlink.Nl;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One htb class's rate change, encoded once and rewritten in place for each new rate: the class
 * change (RTM_NEWTCLASS without rate tables) and, when the class has one, its bfifo leaf's limit
 * (RTM_NEWQDISC), back to back in one buffer (the socket asks the ACK of the last only, as for
 * any batch: {@code NetlinkSocket.requestBatch}), the bytes the codec writes for them ({@link TcCodec#htbClass}, {@link TcCodec#bfifo}). A change puts the class's new
 * tc_htb_opt and the leaf's tc_fifo_qopt over the old ones and nothing else: the daemon's report
 * path builds no messages (on this project's VM, building them took 16-23 us p50 of a report that
 * came after 20 ms of idleness, 45-61 us p99). A class of 2^32 bytes/s or more needs the 64-bit
 * rate attributes, which the template has no room for: {@link #fits}.
 */
public final class HtbRateTemplate {
    private final TcCodec codec;
    private final ByteBuffer bytes;
    private final int length;
    /** Where the class's tc_htb_opt and the leaf's limit (-1: no leaf) are in {@link #bytes}. */
    private final int optAt;
    private final int limitAt;

    private HtbRateTemplate(TcCodec codec, ByteBuffer bytes, int optAt, int limitAt) {
        this.codec = codec;
        this.bytes = bytes;
        this.length = bytes.limit();
        this.optAt = optAt;
        this.limitAt = limitAt;
    }

    /**
     * The change of class {@code c} (handle {@code classid} under {@code parent}) on device {@code
     * ifindex}, with its leaf {@code leaf} when {@code c} has a limit. {@code c}'s rate must {@link #fits}.
     */
    public static HtbRateTemplate of(TcCodec codec, int ifindex, Handle classid, Handle parent, HtbClassSpec c,
                                     Handle leaf) {
        if (!fits(c)) {
            throw new IllegalArgumentException("a rate of 2^32 bytes/s or more needs htb's 64-bit attributes");
        }
        MessageWriter cls = codec.htbClass(TcClient.CHANGE, ifindex, classid, parent, c, false);
        MessageWriter fifo = c.limit() == null ? null
                : codec.bfifo(TcClient.CHANGE, ifindex, leaf, classid, c.limit().bytes());
        byte[] a = cls.toBytes(0);
        byte[] b = fifo == null ? new byte[0] : fifo.toBytes(0);
        ByteBuffer buf = ByteBuffer.allocateDirect(a.length + b.length).order(ByteOrder.nativeOrder());
        buf.put(a).put(b).flip();
        int options = payload(buf, 0, Nl.HDRLEN + KernelStructs.TcMsg.LEN, a.length, Tc.TCA_OPTIONS, -1);
        int opt = payload(buf, 0, options, a.length, Tc.TCA_HTB_PARMS, KernelStructs.HtbOpt.LEN);
        int limit = fifo == null ? -1
                : payload(buf, a.length, a.length + Nl.HDRLEN + KernelStructs.TcMsg.LEN, buf.limit(), Tc.TCA_OPTIONS, 4);
        return new HtbRateTemplate(codec, buf, opt, limit);
    }

    /** Whether the template can carry {@code c}'s rate and ceiling (32-bit ratespecs). */
    public static boolean fits(HtbClassSpec c) {
        return !c.rate().needs64() && !c.ceil().needs64();
    }

    /**
     * The offset of the payload of attribute {@code type}, searched from {@code from} to {@code end}
     * (the attributes of the message at {@code msg}, or of a nest), checked to be {@code len} bytes
     * long unless that is -1.
     */
    private static int payload(ByteBuffer buf, int msg, int from, int end, int type, int len) {
        int at = from;
        while (at + 4 <= end) {
            int alen = Short.toUnsignedInt(buf.getShort(at));
            if ((buf.getShort(at + 2) & 0x3FFF) == type) {
                if (len >= 0 && alen != 4 + len) {
                    break;
                }
                return at + 4;
            }
            if (alen < 4) {
                break;
            }
            at += Nl.align(alen);
        }
        throw new IllegalStateException("the message at " + msg + " has no attribute " + type
                + (len >= 0 ? " of " + len + " bytes" : ""));
    }

    /**
     * The messages for class {@code c} now: its tc_htb_opt (rates, buffers, quantum, priority, overhead,
     * mpu) and its limit (the leaf's) written over the template's; the device, handles and flags stay
     * as at {@link #of}. The result is a view of the template's bytes, from the first message to the end
     * of the last, which the next call overwrites: the caller rewrites and sends under one lock.
     */
    public ByteBuffer at(HtbClassSpec c) {
        if (!fits(c)) {
            throw new IllegalArgumentException("a rate of 2^32 bytes/s or more needs htb's 64-bit attributes");
        }
        ByteBuffer b = bytes.duplicate().order(ByteOrder.nativeOrder());
        b.position(optAt);
        codec.htbOpt(c).put(b);
        if (limitAt >= 0) {
            b.putInt(limitAt, (int) c.limit().bytes());
        }
        return b.position(0).limit(length);
    }
}
