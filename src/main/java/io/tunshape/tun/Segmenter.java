package io.tunshape.tun;

import java.nio.ByteBuffer;

/**
 * Turns what a tun device with offloads hands over (a struct virtio_net_hdr, then a packet) into
 * plain IP packets, as the kernel's own segmentation would for a device without offloads
 * (tcp_gso_segment, inet_gso_segment, skb_checksum_help):
 * <ul>
 * <li>a packet whose checksum was left to the reader (VIRTIO_NET_HDR_F_NEEDS_CSUM) gets it: the sum
 * from csum_start to the end (the field holds the pseudo-header's sum) stored at csum_start +
 * csum_offset, 0 written as 0xFFFF;</li>
 * <li>a TCP super-frame (GSO_TCPV4, GSO_TCPV6) is cut into segments of gso_size payload bytes, each
 * with the headers copied: IPv4 total length, identification (+1 a segment) and header checksum,
 * IPv6 payload length, TCP sequence number, FIN and PSH only on the last segment, CWR only on the
 * first, and the TCP checksum over the pseudo-header, header and payload.</li>
 * </ul>
 * Resumable: {@link #load} takes one frame, {@link #next} writes its segments one at a time,
 * so a caller whose buffer fills can send and come back for the rest.
 */
public final class Segmenter {
    private ByteBuffer src;
    private int ip;
    private int end;
    private boolean v6;
    private int ipLen;
    private int hdrs;
    private int mss;
    private int next = -1;
    private int index;
    private boolean single;
    /** Why the last {@link #load} refused its frame. */
    private String refusal;

    /**
     * Takes the frame at b[off, off + n): a virtio_net_hdr and the packet. False (and nothing to
     * write) when it cannot be cut: an offload the pump did not ask for, or headers that do not
     * add up; {@link #refusal()} says why.
     */
    public boolean load(ByteBuffer b, int off, int n) {
        src = b;
        index = 0;
        single = false;
        next = -1;
        if (n < VnetHeader.LEN + 20) {
            return refuse("a frame of " + n + " bytes");
        }
        int flags = b.get(off + VnetHeader.FLAGS) & 0xFF;
        int gso = b.get(off + VnetHeader.GSO_TYPE) & 0xFF;
        ip = off + VnetHeader.LEN;
        end = off + n;
        int csumStart = VnetHeader.u16(b, off + VnetHeader.CSUM_START);
        int csumOffset = VnetHeader.u16(b, off + VnetHeader.CSUM_OFFSET);
        if ((gso & ~VnetHeader.GSO_ECN) == VnetHeader.GSO_NONE) {
            if ((flags & VnetHeader.F_NEEDS_CSUM) != 0) {
                if (csumStart + csumOffset + 2 > end - ip) {
                    return refuse("checksum at " + csumStart + "+" + csumOffset + " beyond the packet");
                }
                int at = ip + csumStart + csumOffset;
                int sum = Checksum.fold(Checksum.add(b, ip + csumStart, end, 0));
                b.putShort(at, (short) (sum == 0xFFFF ? 0xFFFF : ~sum));
            }
            single = true;
            next = ip;
            return true;
        }
        int type = gso & ~VnetHeader.GSO_ECN;
        int version = (b.get(ip) & 0xF0) >> 4;
        if (type == VnetHeader.GSO_TCPV4 && version == 4 && b.get(ip + 9) == 6) {
            v6 = false;
            ipLen = (b.get(ip) & 0x0F) * 4;
        } else if (type == VnetHeader.GSO_TCPV6 && version == 6) {
            v6 = true;
            ipLen = csumStart; // the TCP header's offset, past any extension headers
            if (ipLen < 40) {
                return refuse("an IPv6 super-frame with csum_start " + csumStart);
            }
        } else {
            return refuse("gso_type " + gso + " on an IPv" + version + " packet");
        }
        if (ipLen < 20 || ip + ipLen + 20 > end) {
            return refuse("a super-frame with a " + ipLen + "-byte IP header in " + (end - ip) + " bytes");
        }
        hdrs = ipLen + ((b.get(ip + ipLen + 12) & 0xF0) >> 2);
        mss = VnetHeader.u16(b, off + VnetHeader.GSO_SIZE);
        if (hdrs < ipLen + 20 || ip + hdrs >= end || mss == 0) {
            return refuse("a super-frame of " + (end - ip) + " bytes with " + hdrs + " of headers, gso_size " + mss);
        }
        next = ip + hdrs;
        return true;
    }

    private boolean refuse(String why) {
        refusal = why;
        next = -1;
        return false;
    }

    public String refusal() {
        return refusal;
    }

    /**
     * Whether the frame loaded last is one whole packet, checksum completed, that has not been
     * written yet: a caller may use it where it lies (at {@link #packet()}, {@link #maxSegment()}
     * bytes) and {@link #skip()} it instead of copying it with {@link #next}.
     */
    public boolean single() {
        return single && next >= 0;
    }

    /** Where the packet of a {@link #single()} frame starts in the buffer given to {@link #load}. */
    public int packet() {
        return ip;
    }

    /** Drops what is left of the frame loaded last. */
    public void skip() {
        next = -1;
    }

    /** Whether the frame loaded last has segments left to write. */
    public boolean hasNext() {
        return next >= 0;
    }

    /**
     * Writes the next segment at dst[at, ...) (room for the largest: {@link #maxSegment()}); returns
     * its length in bytes.
     */
    public int next(ByteBuffer dst, int at) {
        if (single) {
            int len = end - ip;
            dst.put(at, src, ip, len);
            next = -1;
            return len;
        }
        int payload = Math.min(mss, end - next);
        boolean last = next + payload == end;
        int len = hdrs + payload;
        dst.put(at, src, ip, hdrs);
        dst.put(at + hdrs, src, next, payload);
        if (v6) {
            dst.putShort(at + 4, (short) (len - 40));
        } else {
            dst.putShort(at + 2, (short) len);
            dst.putShort(at + 4, (short) (src.getShort(ip + 4) + index));
            Checksum.ipv4Header(dst, at);
        }
        int tcp = at + ipLen;
        dst.putInt(tcp + 4, src.getInt(ip + ipLen + 4) + index * mss);
        int flags = dst.get(tcp + 13) & 0xFF;
        if (!last) {
            flags &= ~(0x01 | 0x08); // FIN, PSH
        }
        if (index > 0) {
            flags &= ~0x80; // CWR
        }
        dst.put(tcp + 13, (byte) flags);
        dst.putShort(tcp + 16, (short) 0);
        long sum = Checksum.pseudo(dst, at, v6, 6, len - ipLen);
        dst.putShort(tcp + 16, (short) ~Checksum.fold(Checksum.add(dst, tcp, at + len, sum)));
        index++;
        next = last ? -1 : next + payload;
        return len;
    }

    /** The largest segment {@link #next} may write: the whole frame, as a bound. */
    public int maxSegment() {
        return end - ip;
    }
}
