package io.tunshape.tun;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Cutting TSO super-frames into packets and merging packets back, byte for byte against packets
 * built independently ({@link TcpFlows}): headers, sequence numbers (across the 2^32 wrap),
 * identification, lengths and checksums, IPv4 and IPv6.
 */
class TcpOffloadTest {
    private static final HexFormat HEX = HexFormat.of();

    static List<byte[]> split(byte[] frame) {
        ByteBuffer src = ByteBuffer.allocateDirect(frame.length + 16);
        src.put(3, frame);
        Segmenter s = new Segmenter();
        assertTrue(s.load(src, 3, frame.length), () -> "refused: " + s.refusal());
        List<byte[]> out = new ArrayList<>();
        ByteBuffer dst = ByteBuffer.allocateDirect(70_000);
        while (s.hasNext()) {
            int len = s.next(dst, 5);
            byte[] b = new byte[len];
            dst.get(5, b);
            out.add(b);
        }
        return out;
    }

    /** The frames back to back (at odd offsets, as a GRO receive leaves them) and their offsets and lengths. */
    static ByteBuffer packed(byte[][] frames, int[] offs, int[] lens) {
        ByteBuffer b = ByteBuffer.allocateDirect(Arrays.stream(frames).mapToInt(f -> f.length).sum() + 100);
        int at = 7;
        for (int i = 0; i < frames.length; i++) {
            b.put(at, frames[i]);
            offs[i] = at;
            lens[i] = frames[i].length;
            at += frames[i].length;
        }
        return b;
    }

    /** virtio_net_hdr, merged headers and the payloads of frames [from, from + n). */
    static byte[] merge(ByteBuffer b, int[] offs, int[] lens, int from, int n) {
        ByteBuffer out = ByteBuffer.allocateDirect(200);
        int h = Coalescer.superHeader(b, offs, lens, from, n, out, 0);
        int hdrs = h - VnetHeader.LEN;
        int total = h;
        for (int i = from; i < from + n; i++) {
            total += lens[i] - hdrs;
        }
        byte[] r = new byte[total];
        out.get(0, r, 0, h);
        int at = h;
        for (int i = from; i < from + n; i++) {
            b.get(offs[i] + hdrs, r, at, lens[i] - hdrs);
            at += lens[i] - hdrs;
        }
        return r;
    }

    private static void assertFrames(byte[][] expected, List<byte[]> got) {
        assertEquals(expected.length, got.size(), "segments");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(HEX.formatHex(expected[i]), HEX.formatHex(got.get(i)), "segment " + i);
        }
    }

    @ParameterizedTest(name = "IPv6 {0}")
    @ValueSource(booleans = {false, true})
    void aSuperFrameIsCutIntoThePacketsAPlainTunDeliversAndMergedBackToItself(boolean v6) {
        TcpFlows f = new TcpFlows(v6);
        int mss = 1420;
        int total = 45 * mss - 333; // 45 segments, the last shorter
        byte[][] plain = f.segments(total, mss, 0, TcpFlows.PSH);
        byte[] sup = f.superFrame(total, mss, TcpFlows.ACK | TcpFlows.PSH);
        assertFrames(plain, split(sup));

        int[] offs = new int[plain.length];
        int[] lens = new int[plain.length];
        ByteBuffer b = packed(plain, offs, lens);
        assertEquals(plain.length, Coalescer.run(b, offs, lens, 0, plain.length), "one run");
        assertEquals(HEX.formatHex(sup), HEX.formatHex(merge(b, offs, lens, 0, plain.length)));
        assertFrames(plain, split(merge(b, offs, lens, 0, plain.length)));
    }

    @ParameterizedTest(name = "IPv6 {0}")
    @ValueSource(booleans = {false, true})
    void finAndPshGoOnTheLastSegmentOnlyAndCwrOnTheFirst(boolean v6) {
        TcpFlows f = new TcpFlows(v6);
        byte[][] plain = f.segments(3000, 1000, TcpFlows.CWR, TcpFlows.PSH | TcpFlows.FIN);
        assertFrames(plain, split(f.superFrame(3000, 1000, TcpFlows.ACK | TcpFlows.CWR | TcpFlows.PSH | TcpFlows.FIN)));
    }

    @Test
    void aRunEndsWhereTheKernelsSegmentationWouldNotGiveItBack() {
        TcpFlows f = new TcpFlows(false);
        int mss = 1000;
        byte[][] s = f.segments(8 * mss, mss, 0, 0);
        assertEquals(8, runOf(s), "a clean run");
        byte[][] gap = s.clone();
        gap[3] = f.packet(3, 3 * mss + 1, mss, TcpFlows.ACK, true);
        assertEquals(3, runOf(gap), "a sequence gap");
        byte[][] shorter = s.clone();
        shorter[2] = f.packet(2, 2 * mss, 500, TcpFlows.ACK, true);
        assertEquals(3, runOf(shorter), "a shorter segment ends the run, itself included");
        byte[][] psh = s.clone();
        psh[4] = f.packet(4, 4 * mss, mss, TcpFlows.ACK | TcpFlows.PSH, true);
        assertEquals(5, runOf(psh), "PSH ends the run, itself included");
        byte[][] fin = s.clone();
        fin[1] = f.packet(1, mss, mss, TcpFlows.ACK | TcpFlows.FIN, true);
        assertEquals(1, runOf(fin), "FIN is not merged");
        byte[][] id = s.clone();
        f.id0 += 5;
        id[5] = f.packet(5, 5 * mss, mss, TcpFlows.ACK, true);
        f.id0 -= 5;
        assertEquals(5, runOf(id), "IPv4 identification not one more");
        byte[][] win = s.clone();
        f.window = 9;
        win[6] = f.packet(6, 6 * mss, mss, TcpFlows.ACK, true);
        assertEquals(6, runOf(win), "another window");
        byte[][] other = s.clone();
        other[2] = new TcpFlows(true).packet(2, 2 * mss, mss, TcpFlows.ACK, true);
        assertEquals(2, runOf(other), "another flow");
        byte[][] bigger = new TcpFlows(false).segments(70 * mss, mss, 0, 0);
        assertEquals(65, runOf(bigger), "at most 64 KB");
    }

    private static int runOf(byte[][] frames) {
        int[] offs = new int[frames.length];
        int[] lens = new int[frames.length];
        return Coalescer.run(packed(frames, offs, lens), offs, lens, 0, frames.length);
    }

    @Test
    void aChecksumLeftToTheReaderIsCompleted() {
        // a UDP packet as tun hands it over with checksum offload: the field holds the pseudo-header's sum
        byte[] p = new byte[20 + 8 + 37];
        ByteBuffer b = ByteBuffer.wrap(p);
        b.put(0, (byte) 0x45).putShort(2, (short) p.length).put(8, (byte) 64).put(9, (byte) 17)
                .putInt(12, 0xC612_0001).putInt(16, 0xC612_0002);
        b.putShort(10, (short) ~TcpFlows.sum(p, 0, 20, 0));
        b.putShort(20, (short) 1234).putShort(22, (short) 5201).putShort(24, (short) 45);
        for (int i = 28; i < p.length; i++) {
            p[i] = (byte) (i * 13);
        }
        long pseudo = 17 + 45 + 0xC612 + 0x0001 + 0xC612 + 0x0002;
        int full = (short) ~TcpFlows.sum(p, 20, p.length, pseudo) & 0xFFFF;
        b.putShort(26, (short) TcpFlows.sum(new byte[0], 0, 0, pseudo));
        ByteBuffer h = ByteBuffer.allocate(VnetHeader.LEN).order(java.nio.ByteOrder.nativeOrder());
        h.put((byte) 1).put((byte) 0).putShort((short) 0).putShort((short) 0).putShort((short) 20).putShort((short) 6);
        byte[] frame = new byte[VnetHeader.LEN + p.length];
        System.arraycopy(h.array(), 0, frame, 0, VnetHeader.LEN);
        System.arraycopy(p, 0, frame, VnetHeader.LEN, p.length);
        List<byte[]> got = split(frame);
        assertEquals(1, got.size());
        b.putShort(26, (short) full);
        assertEquals(HEX.formatHex(p), HEX.formatHex(got.get(0)));
    }

    @Test
    void framesThatCannotBeCutAreRefusedWithTheReason() {
        Segmenter s = new Segmenter();
        ByteBuffer b = ByteBuffer.allocateDirect(100);
        assertFalse(s.load(b, 0, 12));
        assertTrue(s.refusal().contains("12 bytes"), s.refusal());
        b.put(0, (byte) 0).put(1, (byte) 3).put(VnetHeader.LEN, (byte) 0x45); // UFO: not asked for
        assertFalse(s.load(b, 0, 80));
        assertTrue(s.refusal().contains("gso_type 3"), s.refusal());
        assertFalse(s.hasNext());
    }
}
