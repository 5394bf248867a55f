package io.tunshape.tun;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Runs of UDP datagrams merged into one VIRTIO_NET_HDR_GSO_UDP_L4 frame: which datagrams make a
 * run, and that cutting the merged frame as the kernel does (__udp_gso_segment: each datagram the
 * first's headers with its own lengths, identification and checksums) gives back the datagrams
 * byte for byte, IPv4 and IPv6. The datagrams and the cut are built here, independently of the
 * code under test; TunOffloadKernelTest has the kernel cut it (from 198.18.1.2 or fd00:1::2 to
 * 198.18.2.2 or fd00:2::2, port 5201).
 */
public class UdpRunTest {
    private static final HexFormat HEX = HexFormat.of();

    /** A datagram of one flow: IPv4 identification {@code 100 + i}, DF, TTL 64; payload bytes from i. */
    public static byte[] datagram(boolean v6, int i, int payload, int srcPort) {
        int ip = v6 ? 40 : 20;
        ByteBuffer p = ByteBuffer.allocate(ip + 8 + payload);
        if (v6) {
            p.putInt(0, 0x6000_0000 | 0x12345).putShort(4, (short) (8 + payload)).put(6, (byte) 17).put(7, (byte) 64);
            p.putLong(8, 0xFD00_0001_0000_0000L).putLong(16, 2).putLong(24, 0xFD00_0002_0000_0000L).putLong(32, 2);
        } else {
            p.put(0, (byte) 0x45).putShort(2, (short) (ip + 8 + payload)).putShort(4, (short) (100 + i))
                    .putShort(6, (short) 0x4000).put(8, (byte) 64).put(9, (byte) 17)
                    .putInt(12, 0xC612_0102).putInt(16, 0xC612_0202);
            p.putShort(10, (short) ~sum(p, 0, 20, 0));
        }
        p.putShort(ip, (short) srcPort).putShort(ip + 2, (short) 5201).putShort(ip + 4, (short) (8 + payload));
        for (int k = 0; k < payload; k++) {
            p.put(ip + 8 + k, (byte) (i * 31 + k));
        }
        long pseudo = v6 ? sum(p, 8, 40, 17 + 8 + payload) : sum(p, 12, 20, 17 + 8 + payload);
        int c = ~sum(p, ip, ip + 8 + payload, pseudo) & 0xFFFF;
        p.putShort(ip + 6, (short) (c == 0 ? 0xFFFF : c));
        return p.array();
    }

    /** The ones' complement sum of b[from, to) plus {@code start}, folded to 16 bits, byte by byte. */
    private static int sum(ByteBuffer b, int from, int to, long start) {
        long s = start;
        for (int i = from; i < to; i += 2) {
            s += ((b.get(i) & 0xFF) << 8) + (i + 1 < to ? b.get(i + 1) & 0xFF : 0);
        }
        while ((s >> 16) != 0) {
            s = (s & 0xFFFF) + (s >> 16);
        }
        return (int) s;
    }

    private static byte[][] datagrams(boolean v6, int n, int payload, int last) {
        byte[][] d = new byte[n][];
        for (int i = 0; i < n; i++) {
            d[i] = datagram(v6, i, i == n - 1 ? last : payload, 40000);
        }
        return d;
    }

    private static int runOf(byte[][] frames, boolean udp) {
        int[] offs = new int[frames.length];
        int[] lens = new int[frames.length];
        return Coalescer.run(TcpOffloadTest.packed(frames, offs, lens), offs, lens, 0, frames.length, udp);
    }

    @ParameterizedTest(name = "IPv6 {0}")
    @ValueSource(booleans = {false, true})
    void aMergedRunCutAsTheKernelDoesGivesBackEachDatagram(boolean v6) {
        byte[][] d = datagrams(v6, 10, 1200, 333);
        int[] offs = new int[d.length];
        int[] lens = new int[d.length];
        ByteBuffer b = TcpOffloadTest.packed(d, offs, lens);
        assertEquals(10, Coalescer.run(b, offs, lens, 0, d.length, true));
        byte[] merged = TcpOffloadTest.merge(b, offs, lens, 0, 10);
        ByteBuffer m = ByteBuffer.wrap(merged);
        // the virtio_net_hdr: NEEDS_CSUM, UDP_L4, headers, segment size, csum_start, csum_offset (host order)
        int ip = v6 ? 40 : 20;
        assertEquals(1, m.get(0));
        assertEquals(VnetHeader.GSO_UDP_L4, m.get(1));
        assertEquals(ip + 8, VnetHeader.u16(m, 2));
        assertEquals(1200, VnetHeader.u16(m, 4));
        assertEquals(ip, VnetHeader.u16(m, 6));
        assertEquals(6, VnetHeader.u16(m, 8));
        byte[][] cut = cut(m, VnetHeader.LEN, merged.length - VnetHeader.LEN, 1200, v6);
        assertEquals(d.length, cut.length);
        for (int i = 0; i < d.length; i++) {
            assertEquals(HEX.formatHex(d[i]), HEX.formatHex(cut[i]), "datagram " + i + ", IPv6 " + v6);
        }
    }

    /**
     * What __udp_gso_segment and inet_gso_segment make of the super-frame at b[at, at + len): the
     * headers copied to each, lengths set, IPv4 identification +1 a datagram and header checksum,
     * the UDP checksum over each datagram.
     */
    private static byte[][] cut(ByteBuffer b, int at, int len, int seg, boolean v6) {
        int ip = v6 ? 40 : 20;
        int hdrs = ip + 8;
        int payload = len - hdrs;
        int n = (payload + seg - 1) / seg;
        byte[][] out = new byte[n][];
        int id = b.getShort(at + 4) & 0xFFFF;
        for (int k = 0; k < n; k++) {
            int pl = Math.min(seg, payload - k * seg);
            ByteBuffer p = ByteBuffer.allocate(hdrs + pl);
            p.put(0, b, at, hdrs).put(hdrs, b, at + hdrs + k * seg, pl);
            if (v6) {
                p.putShort(4, (short) (8 + pl));
            } else {
                p.putShort(2, (short) (hdrs + pl)).putShort(4, (short) (id + k)).putShort(10, (short) 0);
                p.putShort(10, (short) ~sum(p, 0, 20, 0));
            }
            p.putShort(ip + 4, (short) (8 + pl)).putShort(ip + 6, (short) 0);
            long pseudo = v6 ? sum(p, 8, 40, 17 + 8 + pl) : sum(p, 12, 20, 17 + 8 + pl);
            int c = ~sum(p, ip, hdrs + pl, pseudo) & 0xFFFF;
            p.putShort(ip + 6, (short) (c == 0 ? 0xFFFF : c));
            out[k] = p.array();
        }
        return out;
    }

    @Test
    void aRunEndsWhereTheKernelsCutWouldNotGiveItBack() {
        byte[][] d = datagrams(false, 8, 64, 64);
        assertEquals(8, runOf(d, true), "a clean run");
        assertEquals(1, runOf(d, false), "UDP runs only when asked for");
        byte[][] shorter = d.clone();
        shorter[2] = datagram(false, 2, 10, 40000);
        assertEquals(3, runOf(shorter, true), "a shorter datagram ends the run, itself included");
        byte[][] longer = d.clone();
        longer[3] = datagram(false, 3, 65, 40000);
        assertEquals(3, runOf(longer, true), "a longer datagram is not merged");
        byte[][] id = d.clone();
        id[4] = datagram(false, 9, 64, 40000);
        assertEquals(4, runOf(id, true), "IPv4 identification not one more");
        byte[][] port = d.clone();
        port[5] = datagram(false, 5, 64, 40001);
        assertEquals(5, runOf(port, true), "another flow");
        byte[][] ttl = d.clone();
        ttl[6] = datagram(false, 6, 64, 40000);
        ttl[6][8] = 63;
        assertEquals(6, runOf(ttl, true), "another TTL");
        byte[][] zero = d.clone();
        zero[0] = datagram(false, 0, 64, 40000);
        zero[0][26] = 0;
        zero[0][27] = 0;
        assertEquals(1, runOf(zero, true), "no checksum (IPv4's 0), which the cut would fill in");
        byte[][] frag = d.clone();
        frag[1] = datagram(false, 1, 64, 40000);
        frag[1][6] = 0x20; // more fragments
        assertEquals(1, runOf(frag, true), "a fragment");
        assertEquals(Coalescer.MAX_UDP_SEGMENTS, runOf(datagrams(false, 70, 64, 64), true), "at most 64 datagrams");
        assertEquals(45, runOf(datagrams(false, 60, 1440, 1440), true), "at most 64 KB");
        assertEquals(6, runOf(datagrams(true, 6, 100, 100), true), "IPv6");
    }
}
