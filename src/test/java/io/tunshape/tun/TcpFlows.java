package io.tunshape.tun;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * TCP segments as a plain tun device delivers them, and the TSO super-frame a tun device with
 * offloads delivers for the same data, built byte by byte here with a checksum of its own (RFC 1071
 * over byte arrays), so the tests do not check the code under test against itself.
 */
final class TcpFlows {
    static final int ACK = 0x10;
    static final int PSH = 0x08;
    static final int FIN = 0x01;
    static final int CWR = 0x80;
    /** NOP, NOP, timestamps: 12 option bytes, as Linux sends on an established connection. */
    static final int TCP_LEN = 32;

    final boolean v6;
    final int ipLen;
    int seq0 = 0xFFFF_F000; // wraps within a few segments
    int id0 = 0xFFFE;       // wraps too
    int window = 502;
    int ack = 0x01020304;

    TcpFlows(boolean v6) {
        this.v6 = v6;
        this.ipLen = v6 ? 40 : 20;
    }

    static int sum(byte[] b, int from, int to, long initial) {
        long s = initial;
        for (int i = from; i < to; i += 2) {
            s += ((b[i] & 0xFF) << 8) | (i + 1 < to ? b[i + 1] & 0xFF : 0);
        }
        while ((s >> 16) != 0) {
            s = (s & 0xFFFF) + (s >> 16);
        }
        return (int) s;
    }

    long pseudo(byte[] p, int tcpLength) {
        long s = 6 + tcpLength;
        int from = v6 ? 8 : 12;
        int to = v6 ? 40 : 20;
        for (int i = from; i < to; i += 2) {
            s += ((p[i] & 0xFF) << 8) | (p[i + 1] & 0xFF);
        }
        return s;
    }

    static byte payloadByte(int offset) {
        return (byte) (offset * 7 + (offset >> 8));
    }

    /**
     * One packet: headers of the flow, payload bytes [from, from + len) of the stream, TCP flags,
     * identification id0 + index; {@code tcpCheck}: true = the full checksum, false = the
     * pseudo-header's sum only (what a super-frame carries for the kernel to finish).
     */
    byte[] packet(int index, int from, int len, int flags, boolean tcpCheck) {
        byte[] p = new byte[ipLen + TCP_LEN + len];
        ByteBuffer b = ByteBuffer.wrap(p);
        if (v6) {
            b.putInt(0, 0x60A0_BCDE).putShort(4, (short) (TCP_LEN + len)).put(6, (byte) 6).put(7, (byte) 64);
            for (int i = 0; i < 16; i++) {
                p[8 + i] = (byte) (i == 0 ? 0xFD : i == 15 ? 1 : 0);
                p[24 + i] = (byte) (i == 0 ? 0xFD : i == 15 ? 2 : 0);
            }
        } else {
            b.put(0, (byte) 0x45).put(1, (byte) 0x02).putShort(2, (short) p.length).putShort(4, (short) (id0 + index))
                    .putShort(6, (short) 0x4000).put(8, (byte) 64).put(9, (byte) 6)
                    .putInt(12, 0xC612_0001).putInt(16, 0xC612_0002);
            b.putShort(10, (short) ~sum(p, 0, 20, 0));
        }
        int t = ipLen;
        b.putShort(t, (short) 40000).putShort(t + 2, (short) 5201).putInt(t + 4, seq0 + from).putInt(t + 8, ack)
                .put(t + 12, (byte) ((TCP_LEN / 4) << 4)).put(t + 13, (byte) flags).putShort(t + 14, (short) window)
                .putInt(t + 20, 0x0101_080A).putInt(t + 24, 0x1122_3344).putInt(t + 28, 0x5566_7788);
        for (int i = 0; i < len; i++) {
            p[ipLen + TCP_LEN + i] = payloadByte(from + i);
        }
        long ps = pseudo(p, TCP_LEN + len);
        if (tcpCheck) {
            b.putShort(t + 16, (short) ~sum(p, t, p.length, ps));
        } else {
            b.putShort(t + 16, (short) sum(new byte[0], 0, 0, ps));
        }
        return p;
    }

    /** The segments a plain tun delivers for {@code total} bytes cut at mss; PSH (and {@code lastFlags}) on the last. */
    byte[][] segments(int total, int mss, int firstFlags, int lastFlags) {
        int n = (total + mss - 1) / mss;
        byte[][] s = new byte[n][];
        for (int i = 0; i < n; i++) {
            int len = Math.min(mss, total - i * mss);
            int flags = ACK | (i == 0 ? firstFlags : 0) | (i == n - 1 ? lastFlags : 0);
            s[i] = packet(i, i * mss, len, flags, true);
        }
        return s;
    }

    /** virtio_net_hdr (host order) and the super-frame: the first segment's headers over all the payload. */
    byte[] superFrame(int total, int mss, int flags) {
        byte[] p = packet(0, 0, total, flags, false);
        ByteBuffer h = ByteBuffer.allocate(VnetHeader.LEN).order(ByteOrder.nativeOrder());
        h.put((byte) 1).put((byte) (v6 ? 4 : 1)).putShort((short) (ipLen + TCP_LEN)).putShort((short) mss)
                .putShort((short) ipLen).putShort((short) 16);
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(h.array());
        o.writeBytes(p);
        return o.toByteArray();
    }
}
