package io.tunshape.tun;

/**
 * struct virtio_net_hdr (include/uapi/linux/virtio_net.h), which starts every frame on a tun device
 * opened with IFF_VNET_HDR; the fields are in the host's byte order (legacy virtio on a
 * little-endian host, which is what tun assumes without TUNSETVNETLE):
 * <pre>
 * struct virtio_net_hdr {
 *     __u8  flags;        // VIRTIO_NET_HDR_F_NEEDS_CSUM: complete the checksum at csum_start + csum_offset
 *     __u8  gso_type;     // VIRTIO_NET_HDR_GSO_NONE, _TCPV4, _TCPV6 (| _ECN), _UDP_L4
 *     __u16 hdr_len;      // the headers' length (a hint only)
 *     __u16 gso_size;     // the payload of each segment (the MSS)
 *     __u16 csum_start;   // where the checksummed part starts (the transport header)
 *     __u16 csum_offset;  // where in it the checksum goes (16 for TCP, 6 for UDP)
 * };
 * </pre>
 */
public final class VnetHeader {
    public static final int LEN = 10;
    static final int FLAGS = 0;
    static final int GSO_TYPE = 1;
    static final int HDR_LEN = 2;
    static final int GSO_SIZE = 4;
    static final int CSUM_START = 6;
    static final int CSUM_OFFSET = 8;
    public static final int F_NEEDS_CSUM = 1;
    public static final int GSO_NONE = 0;
    public static final int GSO_TCPV4 = 1;
    public static final int GSO_TCPV6 = 4;
    /** A run of UDP datagrams cut at gso_size (Linux 6.2 and later take it from a tun reader). */
    public static final int GSO_UDP_L4 = 5;
    public static final int GSO_ECN = 0x80;

    private static final boolean SWAP = java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN;

    private VnetHeader() {
    }

    /** A 16-bit field at {@code at}, in the host's order, from a big-endian buffer. */
    static int u16(java.nio.ByteBuffer b, int at) {
        short v = b.getShort(at);
        return Short.toUnsignedInt(SWAP ? Short.reverseBytes(v) : v);
    }

    static void putU16(java.nio.ByteBuffer b, int at, int v) {
        b.putShort(at, SWAP ? Short.reverseBytes((short) v) : (short) v);
    }

    /**
     * Writes a header at {@code at}: with {@code gsoType} other than NONE, a TCP (UDP with UDP_L4)
     * super-frame whose IP header is {@code ipLen} bytes and whose headers are {@code hdrLen} in all,
     * cut at {@code gsoSize}; its checksum (at csum_start = ipLen, offset 16, UDP's 6) is left to the
     * kernel. NONE writes zeros: a whole packet whose checksums are in place.
     */
    public static void write(java.nio.ByteBuffer b, int at, int gsoType, int ipLen, int hdrLen, int gsoSize) {
        if (gsoType == GSO_NONE) {
            b.putLong(at, 0).putShort(at + 8, (short) 0);
            return;
        }
        b.put(at + FLAGS, (byte) F_NEEDS_CSUM).put(at + GSO_TYPE, (byte) gsoType);
        putU16(b, at + HDR_LEN, hdrLen);
        putU16(b, at + GSO_SIZE, gsoSize);
        putU16(b, at + CSUM_START, ipLen);
        putU16(b, at + CSUM_OFFSET, gsoType == GSO_UDP_L4 ? 6 : 16);
    }
}
