package io.tunshape.tc;

import io.tunshape.netlink.Message;
import io.tunshape.netlink.MessageWriter;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The kernel's traffic-control structs (linux/rtnetlink.h, linux/pkt_sched.h, linux/pkt_cls.h,
 * linux/gen_stats.h), one record each, fields in the header's order and named as there. Each has one
 * {@code write(MessageWriter)} and one {@code read(ByteBuffer)} (from the buffer's position, which it
 * advances); their offsets appear nowhere else. Integers are in host order unless the header says
 * {@code __be}: those are held here as the number they mean and turned around on the wire.
 */
public final class KernelStructs {
    private KernelStructs() {
    }

    private static int u8(ByteBuffer b) {
        return Byte.toUnsignedInt(b.get());
    }

    private static int u16(ByteBuffer b) {
        return Short.toUnsignedInt(b.getShort());
    }

    private static long u32(ByteBuffer b) {
        return Integer.toUnsignedLong(b.getInt());
    }

    /** A __be32 as the number it means (the words u32 matches, compared as the packet holds them). */
    private static long be32(ByteBuffer b) {
        return Integer.toUnsignedLong(Integer.reverseBytes(b.getInt()));
    }

    private static long toBe32(long v) {
        return Integer.toUnsignedLong(Integer.reverseBytes((int) v));
    }

    private static int toBe16(int v) {
        return Short.toUnsignedInt(Short.reverseBytes((short) v));
    }

    /*
     * struct tcmsg {
     *     unsigned char  tcm_family;
     *     unsigned char  tcm__pad1;
     *     unsigned short tcm__pad2;
     *     int            tcm_ifindex;
     *     __u32          tcm_handle;
     *     __u32          tcm_parent;
     *     __u32          tcm_info;  // filters: TC_H_MAKE(prio << 16, htons(protocol))
     * };
     */
    public record TcMsg(int family, int ifindex, long handle, long parent, long info) {
        public static final int LEN = 20;

        public static TcMsg of(int ifindex, Handle handle, Handle parent) {
            return new TcMsg(0, ifindex, handle.value(), parent.value(), 0);
        }

        /** A filter's: {@code info} holds its priority and protocol. */
        public static TcMsg filter(int ifindex, Handle handle, Handle parent, int prio, int protocol) {
            return new TcMsg(0, ifindex, handle.value(), parent.value(),
                    Integer.toUnsignedLong(prio << 16 | toBe16(protocol)));
        }

        public void write(MessageWriter m) {
            m.u8(family).u8(0).u16(0).u32(ifindex).u32(handle).u32(parent).u32(info);
        }

        public static TcMsg read(ByteBuffer b) {
            int family = u8(b);
            b.get();
            b.getShort();
            return new TcMsg(family, b.getInt(), u32(b), u32(b), u32(b));
        }

        /** The tcmsg of a received tc message, checked to be there whole. */
        public static TcMsg of(Message m) {
            return read(m.family(LEN, "a tc message"));
        }

        /** A copy of a request with another device: requests for devices alike differ only in tcm_ifindex. */
        public static MessageWriter withIfindex(MessageWriter request, int ifindex) {
            return request.withU32At(io.tunshape.netlink.Nl.HDRLEN + 4, ifindex);
        }

        /** The device a tc message is about; 0 when the message is too short to say. */
        public static int ifindexOf(Message m) {
            return m.length() < io.tunshape.netlink.Nl.HDRLEN + LEN ? 0 : of(m).ifindex();
        }

        public Handle handleAsHandle() {
            return new Handle(handle);
        }

        public Handle parentAsHandle() {
            return new Handle(parent);
        }

        /** A filter's priority. */
        public int prio() {
            return (int) (info >>> 16);
        }

        /** A filter's protocol (the ethertype), in host order. */
        public int protocol() {
            return toBe16((int) (info & 0xFFFF));
        }
    }

    /*
     * struct tc_ratespec {
     *     unsigned char  cell_log;
     *     __u8           linklayer;  // lower 4 bits
     *     unsigned short overhead;
     *     short          cell_align;
     *     unsigned short mpu;
     *     __u32          rate;
     * };
     */
    public record TcRatespec(int cellLog, int linklayer, int overhead, int cellAlign, int mpu, long rate) {
        public static final int LEN = 12;
        /** No rate at all (tbf's peak rate when it has none). */
        public static final TcRatespec NONE = new TcRatespec(0, 0, 0, 0, 0, 0);

        /** What tc sends for a rate on an Ethernet-like link: cell_align -1, as tc_calc_rtable sets it. */
        public static TcRatespec of(int cellLog, Rate rate, int overhead, int mpu) {
            return new TcRatespec(cellLog, Tc.LINKLAYER_ETHERNET, overhead, -1, mpu, rate.u32());
        }

        public void write(MessageWriter m) {
            put(m.reserve(LEN));
        }

        /** Writes the struct at the buffer's position (host order), which it advances. */
        public void put(ByteBuffer b) {
            b.put((byte) cellLog).put((byte) linklayer).putShort((short) overhead).putShort((short) cellAlign)
                    .putShort((short) mpu).putInt((int) rate);
        }

        public static TcRatespec read(ByteBuffer b) {
            return new TcRatespec(u8(b), u8(b), u16(b), b.getShort(), u16(b), u32(b));
        }
    }

    /*
     * struct tc_tbf_qopt {
     *     struct tc_ratespec rate;
     *     struct tc_ratespec peakrate;
     *     __u32              limit;
     *     __u32              buffer;
     *     __u32              mtu;
     * };
     */
    public record TbfQopt(TcRatespec rate, TcRatespec peakrate, long limit, long buffer, long mtu) {
        public static final int LEN = 2 * TcRatespec.LEN + 12;

        public void write(MessageWriter m) {
            rate.write(m);
            peakrate.write(m);
            m.u32(limit).u32(buffer).u32(mtu);
        }

        public static TbfQopt read(ByteBuffer b) {
            return new TbfQopt(TcRatespec.read(b), TcRatespec.read(b), u32(b), u32(b), u32(b));
        }
    }

    /*
     * struct tc_htb_opt {
     *     struct tc_ratespec rate;
     *     struct tc_ratespec ceil;
     *     __u32 buffer;
     *     __u32 cbuffer;
     *     __u32 quantum;
     *     __u32 level;  // out only
     *     __u32 prio;
     * };
     */
    public record HtbOpt(TcRatespec rate, TcRatespec ceil, long buffer, long cbuffer, long quantum, long level,
                         long prio) {
        public static final int LEN = 2 * TcRatespec.LEN + 20;

        public void write(MessageWriter m) {
            put(m.reserve(LEN));
        }

        /** Writes the struct at the buffer's position (host order), which it advances. */
        public void put(ByteBuffer b) {
            rate.put(b);
            ceil.put(b);
            b.putInt((int) buffer).putInt((int) cbuffer).putInt((int) quantum).putInt((int) level).putInt((int) prio);
        }

        public static HtbOpt read(ByteBuffer b) {
            return new HtbOpt(TcRatespec.read(b), TcRatespec.read(b), u32(b), u32(b), u32(b), u32(b), u32(b));
        }
    }

    /*
     * struct tc_htb_glob {
     *     __u32 version;       // to match HTB/TC
     *     __u32 rate2quantum;  // bps->quantum divisor
     *     __u32 defcls;        // default class number
     *     __u32 debug;         // debug flags
     *     __u32 direct_pkts;   // stats: count of non shaped packets
     * };
     */
    public record HtbGlob(long version, long rate2quantum, long defcls, long debug, long directPkts) {
        public static final int LEN = 20;

        public void write(MessageWriter m) {
            m.u32(version).u32(rate2quantum).u32(defcls).u32(debug).u32(directPkts);
        }

        public static HtbGlob read(ByteBuffer b) {
            return new HtbGlob(u32(b), u32(b), u32(b), u32(b), u32(b));
        }
    }

    /*
     * struct tc_u32_key {
     *     __be32 mask;
     *     __be32 val;
     *     int    off;
     *     int    offmask;
     * };
     */
    public record U32Key(long mask, long val, int off, int offmask) {
        public static final int LEN = 16;

        public void write(MessageWriter m) {
            m.u32(toBe32(mask)).u32(toBe32(val)).u32(off).u32(offmask);
        }

        public static U32Key read(ByteBuffer b) {
            return new U32Key(be32(b), be32(b), b.getInt(), b.getInt());
        }
    }

    /*
     * struct tc_u32_sel {
     *     unsigned char     flags;
     *     unsigned char     offshift;
     *     unsigned char     nkeys;
     *     __be16            offmask;
     *     __u16             off;
     *     short             offoff;
     *     short             hoff;
     *     __be32            hmask;
     *     struct tc_u32_key keys[];
     * };
     * (offmask is aligned to 2: one byte of padding after nkeys)
     */
    public record U32Sel(int flags, int offshift, int offmask, int off, int offoff, int hoff, long hmask,
                         List<U32Key> keys) {
        public static final int LEN = 16;

        public U32Sel {
            keys = List.copyOf(keys);
        }

        /** The bytes a selector with {@code nkeys} keys takes. */
        public static int length(int nkeys) {
            return LEN + U32Key.LEN * nkeys;
        }

        public void write(MessageWriter m) {
            m.u8(flags).u8(offshift).u8(keys.size()).u8(0).u16(toBe16(offmask)).u16(off).u16(offoff).u16(hoff)
                    .u32(toBe32(hmask));
            for (U32Key k : keys) {
                k.write(m);
            }
        }

        /** Reads the selector and its keys; the caller has checked that {@link #length} bytes are there. */
        public static U32Sel read(ByteBuffer b) {
            int flags = u8(b);
            int offshift = u8(b);
            int nkeys = u8(b);
            b.get();
            int offmask = toBe16(u16(b));
            int off = u16(b);
            int offoff = b.getShort();
            int hoff = b.getShort();
            long hmask = be32(b);
            List<U32Key> keys = new ArrayList<>(nkeys);
            for (int i = 0; i < nkeys; i++) {
                keys.add(U32Key.read(b));
            }
            return new U32Sel(flags, offshift, offmask, off, offoff, hoff, hmask, keys);
        }

        /** nkeys, read without reading the rest: to check the attribute holds them all first. */
        public static int nkeys(ByteBuffer b) {
            return Byte.toUnsignedInt(b.get(b.position() + 2));
        }
    }

    /*
     * struct gnet_stats_basic {
     *     __u64 bytes;
     *     __u32 packets;
     * };
     */
    public record GnetStatsBasic(long bytes, long packets) {
        public static final int LEN = 12;

        public void write(MessageWriter m) {
            m.u64(bytes).u32(packets);
        }

        public static GnetStatsBasic read(ByteBuffer b) {
            return new GnetStatsBasic(b.getLong(), u32(b));
        }
    }

    /*
     * struct gnet_stats_queue {
     *     __u32 qlen;
     *     __u32 backlog;
     *     __u32 drops;
     *     __u32 requeues;
     *     __u32 overlimits;
     * };
     */
    public record GnetStatsQueue(long qlen, long backlog, long drops, long requeues, long overlimits) {
        public static final int LEN = 20;

        public void write(MessageWriter m) {
            m.u32(qlen).u32(backlog).u32(drops).u32(requeues).u32(overlimits);
        }

        public static GnetStatsQueue read(ByteBuffer b) {
            return new GnetStatsQueue(u32(b), u32(b), u32(b), u32(b), u32(b));
        }
    }
}
