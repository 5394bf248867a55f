package io.tunshape.kernel;

import io.tunshape.netlink.Netns;
import io.tunshape.sys.Sys;
import io.tunshape.sys.UdpSocket;
import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The udp backend's socket against the kernel, on a namespace's loopback: a segmented send reaches
 * a UDP_GRO socket as one buffer with its segment size, and a plain socket as ordinary datagrams,
 * byte for byte either way.
 */
class UdpOffloadKernelTest {
    private static final int SEG = 1000;
    private static final int[] SIZES = {SEG, SEG, SEG, SEG, SEG, SEG, SEG, SEG, SEG, SEG, 300};

    /** The frames of SIZES, back to back in a direct buffer, each byte telling frame and offset. */
    private static ByteBuffer frames(long[] addrs, int[] lens) {
        ByteBuffer b = ByteBuffer.allocateDirect(Arrays.stream(SIZES).sum());
        long base = Sys.address(b);
        int off = 0;
        for (int i = 0; i < SIZES.length; i++) {
            addrs[i] = base + off;
            lens[i] = SIZES[i];
            for (int k = 0; k < SIZES[i]; k++) {
                b.put(off + k, (byte) (i * 31 + k));
            }
            off += SIZES[i];
        }
        return b;
    }

    private static byte[] expected(int i) {
        byte[] e = new byte[SIZES[i]];
        for (int k = 0; k < e.length; k++) {
            e[k] = (byte) (i * 31 + k);
        }
        return e;
    }

    /** The whole run in one receive, with its segment size, byte for byte. */
    private static void assertWholeRun(UdpSocket rx, ByteBuffer got, int n) {
        assertEquals(Arrays.stream(SIZES).sum(), n, "the whole run in one receive");
        assertEquals(SEG, rx.lastSegmentSize(), "with its segment size");
        int off = 0;
        for (int i = 0; i < SIZES.length; i++) {
            byte[] f = new byte[SIZES[i]];
            got.get(off, f);
            assertArrayEquals(expected(i), f, "frame " + i);
            off += SIZES[i];
        }
    }

    @Test
    void aSegmentedSendArrivesWholeAtAGroSocketAndAsDatagramsAtAPlainOne() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.ip("link", "set", "lo", "up");
            Netns.run(ns.name(), () -> {
                long[] addrs = new long[SIZES.length];
                int[] lens = new int[SIZES.length];
                ByteBuffer keep = frames(addrs, lens);
                InetSocketAddress a = new InetSocketAddress("127.0.0.1", 7001);
                InetSocketAddress b = new InetSocketAddress("127.0.0.1", 7002);
                try (UdpSocket tx = UdpSocket.open(a, b); UdpSocket rx = UdpSocket.open(b, a)) {
                    assertTrue(tx.segmentsOnSend(), "this kernel segments UDP on send");
                    assertTrue(rx.coalescesOnReceive(), "this kernel hands coalesced UDP over");
                    assertTrue(tx.maxSegment() >= SEG, "loopback's MTU carries " + SEG + "-byte segments");
                    tx.send(addrs, lens, 0, SIZES.length, SEG);
                    assertTrue(rx.await(2000));
                    ByteBuffer got = ByteBuffer.allocateDirect(70_000);
                    int n = rx.receive(Sys.address(got), got.capacity());
                    if (n == SIZES[0] && !TunOffloadKernelTest.kernelAtLeast(5, 11)) {
                        // 5.10: loopback does not carry a UDP GSO run (NETIF_F_GSO_UDP_L4 joined the
                        // software GSO features in 5.11), so it is cut on send: one datagram a receive
                        System.out.println("Linux " + System.getProperty("os.version") + ": the run reached the UDP_GRO "
                                + "socket as datagrams (loopback cuts UDP GSO before 5.11)");
                        for (int i = 0; i < SIZES.length; i++) {
                            assertTrue(i == 0 || rx.await(2000), "datagram " + i);
                            int len = i == 0 ? n : rx.receive(Sys.address(got), got.capacity());
                            byte[] f = new byte[len];
                            got.get(0, f);
                            assertArrayEquals(expected(i), f, "datagram " + i);
                        }
                    } else {
                        assertWholeRun(rx, got, n);
                    }
                    assertEquals(-1, rx.receive(Sys.address(got), got.capacity()), "nothing more");
                }
                // a receiver that did not ask for coalescing (any other program): ordinary datagrams
                InetSocketAddress c = new InetSocketAddress("127.0.0.1", 7003);
                try (DatagramSocket plain = new DatagramSocket(c);
                     UdpSocket tx = UdpSocket.open(new InetSocketAddress("127.0.0.1", 7004), c)) {
                    plain.setSoTimeout(2000);
                    tx.send(addrs, lens, 0, SIZES.length, SEG);
                    for (int i = 0; i < SIZES.length; i++) {
                        DatagramPacket p = new DatagramPacket(new byte[2048], 2048);
                        plain.receive(p);
                        assertArrayEquals(expected(i), Arrays.copyOf(p.getData(), p.getLength()), "datagram " + i);
                    }
                }
                keep.clear();
                return null;
            });
        }
    }
}
