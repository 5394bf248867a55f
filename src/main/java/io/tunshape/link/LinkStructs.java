package io.tunshape.link;

import io.tunshape.netlink.Message;
import io.tunshape.netlink.MessageWriter;
import io.tunshape.netlink.Nl;

import java.nio.ByteBuffer;

/**
 * The kernel's link and address structs (linux/rtnetlink.h, linux/if_addr.h, linux/if_link.h), one
 * record each, fields in the header's order and named as there, each with one {@code write} and one
 * {@code read} (from the buffer's position, which it advances); their offsets appear nowhere else.
 */
public final class LinkStructs {
    private LinkStructs() {
    }

    /*
     * struct ifinfomsg {
     *     unsigned char  ifi_family;
     *     unsigned char  __ifi_pad;
     *     unsigned short ifi_type;    // ARPHRD_*
     *     int            ifi_index;   // link index
     *     unsigned       ifi_flags;   // IFF_* flags
     *     unsigned       ifi_change;  // IFF_* change mask
     * };
     */
    public record IfInfoMsg(int family, int type, int index, int flags, int change) {
        public static final int LEN = 16;

        /** A request about the link {@code index} (0: every link, in a dump). */
        public static IfInfoMsg of(int index) {
            return new IfInfoMsg(0, 0, index, 0, 0);
        }

        public void write(MessageWriter m) {
            m.u8(family).u8(0).u16(type).u32(index).u32(flags).u32(change);
        }

        public static IfInfoMsg read(ByteBuffer b) {
            int family = Byte.toUnsignedInt(b.get());
            b.get();
            return new IfInfoMsg(family, Short.toUnsignedInt(b.getShort()), b.getInt(), b.getInt(), b.getInt());
        }

        /** The ifinfomsg of a received link message, checked to be there whole. */
        public static IfInfoMsg of(Message m) {
            return read(m.family(LEN, "a link message"));
        }

        /** The link a link message is about; 0 when the message is too short to say. */
        public static int indexOf(Message m) {
            return m.length() < Nl.HDRLEN + LEN ? 0 : of(m).index();
        }
    }

    /*
     * struct ifaddrmsg {
     *     __u8  ifa_family;
     *     __u8  ifa_prefixlen;  // the prefix length
     *     __u8  ifa_flags;      // flags
     *     __u8  ifa_scope;      // address scope
     *     __u32 ifa_index;      // link index
     * };
     */
    public record IfAddrMsg(int family, int prefixlen, int flags, int scope, int index) {
        public static final int LEN = 8;

        public void write(MessageWriter m) {
            m.u8(family).u8(prefixlen).u8(flags).u8(scope).u32(index);
        }

        public static IfAddrMsg read(ByteBuffer b) {
            return new IfAddrMsg(Byte.toUnsignedInt(b.get()), Byte.toUnsignedInt(b.get()), Byte.toUnsignedInt(b.get()),
                    Byte.toUnsignedInt(b.get()), b.getInt());
        }
    }

    /*
     * struct rtnl_link_stats64 {
     *     __u64 rx_packets;
     *     __u64 tx_packets;
     *     __u64 rx_bytes;
     *     __u64 tx_bytes;
     *     __u64 rx_errors;
     *     __u64 tx_errors;
     *     __u64 rx_dropped;
     *     __u64 tx_dropped;
     *     ... (16 more counters, not read here)
     * };
     */
    public record LinkStats64(long rxPackets, long txPackets, long rxBytes, long txBytes, long rxErrors,
                              long txErrors, long rxDropped, long txDropped) {
        /** The part read here: the first eight counters. */
        public static final int LEN = 64;

        public void write(MessageWriter m) {
            m.u64(rxPackets).u64(txPackets).u64(rxBytes).u64(txBytes).u64(rxErrors).u64(txErrors).u64(rxDropped)
                    .u64(txDropped);
        }

        public static LinkStats64 read(ByteBuffer b) {
            return new LinkStats64(b.getLong(), b.getLong(), b.getLong(), b.getLong(), b.getLong(), b.getLong(),
                    b.getLong(), b.getLong());
        }
    }
}
