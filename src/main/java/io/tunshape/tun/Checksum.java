package io.tunshape.tun;

import java.nio.ByteBuffer;

/**
 * The Internet checksum (RFC 1071) of IPv4 headers and of TCP and UDP with their pseudo-headers.
 * Sums are kept unfolded in a long while bytes are added and folded to 16 bits at the end; buffers
 * are read big-endian (network order) at absolute positions.
 */
public final class Checksum {
    private Checksum() {
    }

    /** Adds b[from, to) to {@code sum}: 16-bit big-endian words, an odd last byte padded with zero. */
    public static long add(ByteBuffer b, int from, int to, long sum) {
        int i = from;
        // eight bytes at a time, as two 32-bit words: their sum folds to the same 16-bit sum, since
        // 2^16 = 1 in ones' complement arithmetic; four sums side by side, which the CPU adds in
        // parallel (a 1400-byte payload: about half the time of one chain)
        long s1 = 0;
        long s2 = 0;
        long s3 = 0;
        for (; i + 32 <= to; i += 32) {
            long v = b.getLong(i);
            long w = b.getLong(i + 8);
            long x = b.getLong(i + 16);
            long y = b.getLong(i + 24);
            sum += (v >>> 32) + (v & 0xFFFF_FFFFL);
            s1 += (w >>> 32) + (w & 0xFFFF_FFFFL);
            s2 += (x >>> 32) + (x & 0xFFFF_FFFFL);
            s3 += (y >>> 32) + (y & 0xFFFF_FFFFL);
        }
        sum += s1 + s2 + s3;
        for (; i + 8 <= to; i += 8) {
            long v = b.getLong(i);
            sum += (v >>> 32) + (v & 0xFFFF_FFFFL);
        }
        if (i + 4 <= to) {
            sum += b.getInt(i) & 0xFFFF_FFFFL;
            i += 4;
        }
        if (i + 2 <= to) {
            sum += b.getShort(i) & 0xFFFF;
            i += 2;
        }
        if (i < to) {
            sum += (b.get(i) & 0xFF) << 8;
        }
        return sum;
    }

    /** The 16-bit ones' complement sum, not complemented. */
    public static int fold(long sum) {
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xFFFF) + (sum >>> 16);
        }
        return (int) sum;
    }

    /**
     * The pseudo-header's sum for a transport segment of {@code length} bytes (header and payload)
     * in the IP packet at {@code ip}: addresses, protocol and length (RFC 793, RFC 8200 8.1).
     */
    public static long pseudo(ByteBuffer b, int ip, boolean v6, int protocol, int length) {
        return v6 ? add(b, ip + 8, ip + 40, protocol + length) : add(b, ip + 12, ip + 20, protocol + length);
    }

    /** Writes an IPv4 header's checksum (header length from its IHL). */
    public static void ipv4Header(ByteBuffer b, int ip) {
        int len = (b.get(ip) & 0x0F) * 4;
        b.putShort(ip + 10, (short) 0);
        b.putShort(ip + 10, (short) ~fold(add(b, ip, ip + len, 0)));
    }
}
