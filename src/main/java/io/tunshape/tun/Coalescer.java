package io.tunshape.tun;

import java.nio.ByteBuffer;

/**
 * Finds runs of TCP segments that a tun device with offloads can take as one super-frame, and
 * writes the super-frame's headers: what the kernel's GRO does for a network card
 * (tcp_gro_receive, inet_gro_receive), so the receiving stack handles a run once.
 *
 * <p>A run is consecutive frames of one flow, in order, that the kernel's segmentation would give
 * back unchanged (so nothing is lost or altered by merging): IPv4 without options or fragments,
 * or IPv6 with TCP as the next header; equal IP fields (TOS/traffic class, flow label, TTL, DF,
 * addresses), identification +1 a segment (IPv4); equal TCP header but for the sequence number
 * (each continuing the one before), the checksum and a PSH on the last; flags ACK (PSH ends a
 * run); every payload as long as the first but the last, which may be shorter and ends the run;
 * 64 KB in all. Checksums are not verified: the segments crossed the link inside UDP, whose own
 * checksum the kernel checked.
 *
 * <p>UDP the same way when {@code udp} is asked for (the kernel takes VIRTIO_NET_HDR_GSO_UDP_L4
 * since Linux 6.2, and __udp_gso_segment cuts it again, for a local socket or on the way out):
 * consecutive datagrams of one flow, equal IP fields, identification +1 a datagram (IPv4), equal
 * ports, a checksum in place (not 0, which the cut would replace), every payload as long as the
 * first but the last, which may be shorter and ends the run; at most {@link #MAX_UDP_SEGMENTS}.
 * A receiving socket gets the same datagrams; one trip through tun and the stack carries them.
 */
public final class Coalescer {
    /** The most a super-frame may carry: IPv4's total length (and IPv6's payload length without jumbograms). */
    public static final int MAX_BYTES = 65_535;
    /** The most datagrams in a UDP run (the kernel's UDP_MAX_SEGMENTS was 64 before 6.9). */
    public static final int MAX_UDP_SEGMENTS = 64;
    private static final int TCP = 6;
    public static final int UDP = 17;
    private static final int ACK = 0x10;
    private static final int PSH = 0x08;

    private Coalescer() {
    }

    /**
     * Of the {@code count} frames from index {@code from} (frame i is b[offs[i], offs[i] + lens[i])),
     * how many from the first make one super-frame; 1 when the first merges with nothing.
     */
    public static int run(ByteBuffer b, int[] offs, int[] lens, int from, int count) {
        return run(b, offs, lens, from, count, false);
    }

    /** As {@link #run(ByteBuffer, int[], int[], int, int)}, and runs of UDP datagrams too when {@code udp}. */
    public static int run(ByteBuffer b, int[] offs, int[] lens, int from, int count, boolean udp) {
        if (count - from < 2) {
            return 1;
        }
        int p = offs[from];
        if (udp && protocol(b, p) == UDP) {
            return udpRun(b, offs, lens, from, count);
        }
        int hdrs = headers(b, p, lens[from]);
        if (hdrs < 0 || (b.get(p + ipLen(b, p) + 13) & PSH) != 0) {
            return 1;
        }
        boolean v6 = (b.get(p) & 0xF0) == 0x60;
        int ipLen = v6 ? 40 : 20;
        int mss = lens[from] - hdrs;
        int total = lens[from];
        int seq = b.getInt(p + ipLen + 4) + mss;
        int id = b.getShort(p + 4);
        int k = from + 1;
        for (; k < count; k++) {
            int q = offs[k];
            int len = lens[k];
            if (headers(b, q, len) != hdrs || !sameFlow(b, p, q, v6, hdrs)) {
                break;
            }
            int payload = len - hdrs;
            if (payload > mss || b.getInt(q + ipLen + 4) != seq || total + payload > MAX_BYTES) {
                break;
            }
            if (!v6 && (short) b.getShort(q + 4) != (short) (id + (k - from))) {
                break;
            }
            total += payload;
            seq += payload;
            if (payload < mss || (b.get(q + ipLen + 13) & PSH) != 0) {
                k++;
                break;
            }
        }
        return k - from;
    }

    /** The transport protocol of an IPv4 or IPv6 packet (IPv6: the first next header), -1 for neither. */
    public static int protocol(ByteBuffer b, int p) {
        int version = b.get(p) & 0xF0;
        return version == 0x40 ? b.get(p + 9) & 0xFF : version == 0x60 ? b.get(p + 6) & 0xFF : -1;
    }

    private static int udpRun(ByteBuffer b, int[] offs, int[] lens, int from, int count) {
        int p = offs[from];
        int hdrs = udpHeaders(b, p, lens[from]);
        if (hdrs < 0) {
            return 1;
        }
        boolean v6 = hdrs == 48;
        int seg = lens[from] - hdrs;
        int total = lens[from];
        int id = b.getShort(p + 4);
        int end = Math.min(count, from + MAX_UDP_SEGMENTS);
        int k = from + 1;
        for (; k < end; k++) {
            int q = offs[k];
            int len = lens[k];
            int payload = len - hdrs;
            if (udpHeaders(b, q, len) != hdrs || payload > seg || total + payload > MAX_BYTES
                    || !sameIp(b, p, q, v6) || b.getInt(p + hdrs - 8) != b.getInt(q + hdrs - 8)) {
                break;
            }
            if (!v6 && (short) b.getShort(q + 4) != (short) (id + (k - from))) {
                break;
            }
            total += payload;
            if (payload < seg) {
                k++;
                break;
            }
        }
        return k - from;
    }

    /**
     * The IP and UDP headers' length (28 or 48) when the datagram may take part in a UDP run, else
     * -1: IPv4 without options and not a fragment, or IPv6 with UDP as the next header; lengths that
     * agree with the frame; a payload; a checksum.
     */
    static int udpHeaders(ByteBuffer b, int p, int len) {
        int first = b.get(p) & 0xFF;
        int ipLen;
        if (first == 0x45) {
            if (len <= 28 || b.get(p + 9) != UDP || (b.getShort(p + 2) & 0xFFFF) != len
                    || (b.getShort(p + 6) & 0x3FFF) != 0) {
                return -1;
            }
            ipLen = 20;
        } else if ((first & 0xF0) == 0x60) {
            if (len <= 48 || b.get(p + 6) != UDP || (b.getShort(p + 4) & 0xFFFF) + 40 != len) {
                return -1;
            }
            ipLen = 40;
        } else {
            return -1;
        }
        return (b.getShort(p + ipLen + 4) & 0xFFFF) == len - ipLen && b.getShort(p + ipLen + 6) != 0 ? ipLen + 8 : -1;
    }

    private static int ipLen(ByteBuffer b, int p) {
        return (b.get(p) & 0xF0) == 0x60 ? 40 : 20;
    }

    /** The IP and TCP headers' length when the frame may take part in a run, else -1. */
    static int headers(ByteBuffer b, int p, int len) {
        if (len < 40) {
            return -1;
        }
        int first = b.get(p) & 0xFF;
        int ipLen;
        if (first == 0x45) {
            // IPv4 without options, TCP, the whole frame, not a fragment (DF may be either)
            if (b.get(p + 9) != 6 || (b.getShort(p + 2) & 0xFFFF) != len || (b.getShort(p + 6) & 0x3FFF) != 0) {
                return -1;
            }
            ipLen = 20;
        } else if ((first & 0xF0) == 0x60) {
            if (len < 60 || b.get(p + 6) != 6 || (b.getShort(p + 4) & 0xFFFF) + 40 != len) {
                return -1;
            }
            ipLen = 40;
        } else {
            return -1;
        }
        int flags = b.get(p + ipLen + 13) & 0xFF;
        if (flags != ACK && flags != (ACK | PSH)) {
            return -1;
        }
        int hdrs = ipLen + ((b.get(p + ipLen + 12) & 0xF0) >> 2);
        return hdrs >= ipLen + 20 && hdrs < len ? hdrs : -1;
    }

    /** Equal IP fields (but lengths, identification, checksum) and TCP header (but sequence, flags, checksum). */
    private static boolean sameFlow(ByteBuffer b, int p, int q, boolean v6, int hdrs) {
        if (!sameIp(b, p, q, v6)) {
            return false;
        }
        int ipLen = v6 ? 40 : 20;
        int t = p + ipLen;
        int u = q + ipLen;
        // ports; acknowledgement; data offset; window; urgent pointer; options
        return b.getInt(t) == b.getInt(u) && b.getInt(t + 8) == b.getInt(u + 8) && b.get(t + 12) == b.get(u + 12)
                && b.getShort(t + 14) == b.getShort(u + 14) && b.getShort(t + 18) == b.getShort(u + 18)
                && equal(b, t + 20, u + 20, hdrs - ipLen - 20);
    }

    /** Equal IP fields but lengths, identification and header checksum. */
    private static boolean sameIp(ByteBuffer b, int p, int q, boolean v6) {
        if (v6) {
            // version, traffic class, flow label; next header, hop limit; addresses
            return b.getInt(p) == b.getInt(q) && b.getShort(p + 6) == b.getShort(q + 6) && equal(b, p + 8, q + 8, 32);
        }
        // version, IHL, TOS; flags (DF); TTL, protocol; addresses
        return b.getShort(p) == b.getShort(q) && b.getShort(p + 6) == b.getShort(q + 6)
                && b.getShort(p + 8) == b.getShort(q + 8) && b.getLong(p + 12) == b.getLong(q + 12);
    }

    private static boolean equal(ByteBuffer b, int p, int q, int n) {
        int i = 0;
        for (; i + 4 <= n; i += 4) {
            if (b.getInt(p + i) != b.getInt(q + i)) {
                return false;
            }
        }
        for (; i < n; i++) {
            if (b.get(p + i) != b.get(q + i)) {
                return false;
            }
        }
        return true;
    }

    /** The IP and TCP headers' length of a frame that {@link #run} put in a run of two or more. */
    public static int headerLength(ByteBuffer b, int p) {
        int ipLen = ipLen(b, p);
        return protocol(b, p) == UDP ? ipLen + 8 : ipLen + ((b.get(p + ipLen + 12) & 0xF0) >> 2);
    }

    /**
     * Writes, at out[at, ...), the virtio_net_hdr and the IP and TCP headers of the super-frame made
     * of the {@code n} frames from index {@code from} (a run): the first frame's headers with the
     * total length, the IPv4 header checksum, a PSH when the last frame has one, and in the TCP
     * checksum field the pseudo-header's sum (the kernel adds the rest: VIRTIO_NET_HDR_F_NEEDS_CSUM).
     * Returns the bytes written; the payloads follow, each frame's after its headers.
     */
    public static int superHeader(ByteBuffer b, int[] offs, int[] lens, int from, int n, ByteBuffer out, int at) {
        int p = offs[from];
        boolean v6 = (b.get(p) & 0xF0) == 0x60;
        int ipLen = v6 ? 40 : 20;
        int hdrs = headerLength(b, p);
        int total = hdrs;
        for (int i = from; i < from + n; i++) {
            total += lens[i] - hdrs;
        }
        boolean udp = protocol(b, p) == UDP;
        VnetHeader.write(out, at, udp ? VnetHeader.GSO_UDP_L4 : v6 ? VnetHeader.GSO_TCPV6 : VnetHeader.GSO_TCPV4, ipLen,
                hdrs, lens[from] - hdrs);
        int h = at + VnetHeader.LEN;
        out.put(h, b, p, hdrs);
        if (v6) {
            out.putShort(h + 4, (short) (total - 40));
        } else {
            out.putShort(h + 2, (short) total);
            Checksum.ipv4Header(out, h);
        }
        if (udp) {
            // the UDP length and checksum of the whole: __udp_gso_segment gives each datagram its own
            out.putShort(h + ipLen + 4, (short) (total - ipLen));
            out.putShort(h + ipLen + 6, (short) Checksum.fold(Checksum.pseudo(out, h, v6, UDP, total - ipLen)));
            return VnetHeader.LEN + hdrs;
        }
        int last = offs[from + n - 1];
        if ((b.get(last + ipLen + 13) & PSH) != 0) {
            out.put(h + ipLen + 13, (byte) (out.get(h + ipLen + 13) | PSH));
        }
        out.putShort(h + ipLen + 16, (short) Checksum.fold(Checksum.pseudo(out, h, v6, TCP, total - ipLen)));
        return VnetHeader.LEN + hdrs;
    }
}
