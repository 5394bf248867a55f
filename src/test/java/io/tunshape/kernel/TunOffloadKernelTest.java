package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunshape.netlink.Netns;
import io.tunshape.sys.Errno;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;
import io.tunshape.testing.Bounds;
import io.tunshape.testing.KernelNs;
import io.tunshape.testing.PumpProcess;
import io.tunshape.tun.Coalescer;
import io.tunshape.tun.Segmenter;
import io.tunshape.tun.TunDevice;
import io.tunshape.tun.UdpRunTest;
import io.tunshape.tun.VnetHeader;
import org.junit.jupiter.api.Test;

import java.io.DataInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * tun's offloads against the kernel. The kernel is the oracle for cutting and merging: in a
 * namespace that forwards, a super-frame written into a tun device with offloads leaves through a
 * plain tun device cut by the kernel's own segmentation (what a plain tun delivers), and must equal
 * what {@link Segmenter} makes of it, TTL (hop limit) aside, which forwarding takes one from. Then
 * two pumps carry TCP, UDP and ICMP at once, with offloads on one side only and on both.
 */
class TunOffloadKernelTest {
    private static final HexFormat HEX = HexFormat.of();

    @Test
    void theKernelCutsASuperFrameAsTheSegmenterDoesAndTakesMergedRunsBackWhole() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            Netns.run(ns.name(), () -> {
                try (TunDevice in = TunDevice.openWithOffloads("toff", false, m -> { });
                     TunDevice out = TunDevice.open("tplain", false)) {
                    assertTrue(in.vnetHeader(), "this kernel offers IFF_VNET_HDR");
                    assertEquals(TunDevice.TUN_F_CSUM | TunDevice.TUN_F_TSO4 | TunDevice.TUN_F_TSO6, in.offloads(),
                            "the UDP segmentation probe leaves checksum and TSO in force, and no more");
                    assertEquals(kernelAtLeast(6, 2), in.udpRuns(), "UDP runs offered from Linux 6.2, on "
                            + System.getProperty("os.version"));
                    ns.exec(List.of("sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"));
                    for (String d : new String[] {"toff", "tplain"}) {
                        ns.exec(List.of("sysctl", "-q", "-w", "net.ipv4.conf." + d + ".rp_filter=0"));
                        ns.ip("link", "set", d, "up");
                    }
                    ns.ip("addr", "add", "198.18.1.1/24", "dev", "toff");
                    ns.ip("addr", "add", "198.18.2.1/24", "dev", "tplain");
                    ns.ip("addr", "add", "fd00:1::1/64", "dev", "toff", "nodad");
                    ns.ip("addr", "add", "fd00:2::1/64", "dev", "tplain", "nodad");
                    drain(out);
                    for (boolean v6 : new boolean[] {false, true}) {
                        checkRoundTrip(in, out, v6);
                        checkUdpRun(in, out, v6);
                    }
                }
                return null;
            });
        }
    }

    /** 44 full segments and a short one, the MSS of a 1500-byte MTU, from x.2 behind toff to x.2 behind tplain. */
    private static void checkRoundTrip(TunDevice in, TunDevice out, boolean v6) throws Exception {
        int mss = v6 ? 1428 : 1448;
        int total = 44 * mss + 1000;
        byte[] sup = superFrame(v6, total, mss);
        ByteBuffer b = ByteBuffer.allocateDirect(70_000);
        b.put(0, sup);
        assertEquals(sup.length, Sys.write(in.fd(), Sys.address(b), sup.length), "the kernel takes the super-frame");
        List<byte[]> kernel = readAll(out, 45);
        // ours, with what forwarding changes: TTL/hop limit one less (and IPv4's header checksum)
        Segmenter s = new Segmenter();
        assertTrue(s.load(b, 0, sup.length), () -> s.refusal());
        ByteBuffer seg = ByteBuffer.allocateDirect(70_000);
        List<byte[]> ours = new ArrayList<>();
        while (s.hasNext()) {
            int len = s.next(seg, 0);
            forwarded(seg, v6);
            byte[] o = new byte[len];
            seg.get(0, o);
            ours.add(o);
        }
        assertEquals(ours.size(), kernel.size(), "segments, IPv6 " + v6);
        for (int i = 0; i < ours.size(); i++) {
            assertEquals(HEX.formatHex(kernel.get(i)), HEX.formatHex(ours.get(i)), "segment " + i + ", IPv6 " + v6);
        }
        // the kernel's segments merged by the coalescer and written back: the kernel cuts the
        // super-frame into the same segments again (one hop further)
        int n = kernel.size();
        int[] offs = new int[n];
        int[] lens = new int[n];
        ByteBuffer packed = ByteBuffer.allocateDirect(70_000);
        int at = 0;
        for (int i = 0; i < n; i++) {
            byte[] k = kernel.get(i);
            // back to the far side's addresses: from x.2 behind tplain toward the namespace's x.2 behind toff
            packed.put(at, k);
            offs[i] = at;
            lens[i] = k.length;
            at += k.length;
        }
        assertEquals(n, Coalescer.run(packed, offs, lens, 0, n), "one run");
        ByteBuffer head = ByteBuffer.allocateDirect(200);
        int h = Coalescer.superHeader(packed, offs, lens, 0, n, head, 0);
        ByteBuffer merged = ByteBuffer.allocateDirect(70_000);
        merged.put(0, head, 0, h);
        int m = h;
        for (int i = 0; i < n; i++) {
            merged.put(m, packed, offs[i] + h - VnetHeader.LEN, lens[i] - (h - VnetHeader.LEN));
            m += lens[i] - (h - VnetHeader.LEN);
        }
        assertEquals(sup.length, m, "the merged super-frame is as long as the one we began with");
        assertEquals(m, Sys.write(in.fd(), Sys.address(merged), m), "the kernel takes the merged super-frame");
        List<byte[]> again = readAll(out, n);
        for (int i = 0; i < n; i++) {
            ByteBuffer k = ByteBuffer.allocateDirect(lens[i]).put(0, kernel.get(i));
            forwarded(k, v6);
            byte[] e = new byte[lens[i]];
            k.get(0, e);
            assertEquals(HEX.formatHex(e), HEX.formatHex(again.get(i)), "re-cut segment " + i + ", IPv6 " + v6);
        }
    }

    /**
     * 20 datagrams of 1200 bytes and a shorter one merged by the coalescer into one UDP_L4 frame:
     * where the device says it takes UDP runs ({@link TunDevice#udpRuns()}, Linux 6.2 and later) the
     * kernel cuts it (on its way out of the plain device) into the same datagrams; where it says it
     * does not (5.10, 6.1: TUNSETOFFLOAD refused TUN_F_USO4/6), the kernel refuses the frame (EINVAL).
     */
    private static void checkUdpRun(TunDevice in, TunDevice out, boolean v6) throws Exception {
        int n = 21;
        int[] offs = new int[n];
        int[] lens = new int[n];
        ByteBuffer packed = ByteBuffer.allocateDirect(70_000);
        byte[][] d = new byte[n][];
        int at = 0;
        for (int i = 0; i < n; i++) {
            d[i] = UdpRunTest.datagram(v6, i, i == n - 1 ? 99 : 1200, 40000);
            packed.put(at, d[i]);
            offs[i] = at;
            lens[i] = d[i].length;
            at += d[i].length;
        }
        assertEquals(n, Coalescer.run(packed, offs, lens, 0, n, true), "one run");
        ByteBuffer merged = ByteBuffer.allocateDirect(70_000);
        int h = Coalescer.superHeader(packed, offs, lens, 0, n, merged, 0);
        int m = h;
        for (int i = 0; i < n; i++) {
            merged.put(m, packed, offs[i] + h - VnetHeader.LEN, lens[i] - (h - VnetHeader.LEN));
            m += lens[i] - (h - VnetHeader.LEN);
        }
        if (!in.udpRuns()) {
            int len = m;
            NativeException e = assertThrows(NativeException.class, () -> Sys.write(in.fd(), Sys.address(merged), len),
                    "a kernel without UDP segmentation offload refuses the UDP run");
            assertEquals(Errno.EINVAL, e.errno(), e.getMessage());
            System.out.println("UDP runs not offered by this kernel (" + System.getProperty("os.version")
                    + "): TUNSETOFFLOAD refused TUN_F_USO4/6 and the UDP_L4 frame was refused with EINVAL, IPv6 " + v6);
            return;
        }
        assertEquals(m, Sys.write(in.fd(), Sys.address(merged), m), "the kernel takes the UDP run");
        List<byte[]> got = readAll(out, n, 17);
        for (int i = 0; i < n; i++) {
            ByteBuffer e = ByteBuffer.allocateDirect(lens[i]).put(0, d[i]);
            forwarded(e, v6);
            byte[] f = new byte[lens[i]];
            e.get(0, f);
            assertEquals(HEX.formatHex(f), HEX.formatHex(got.get(i)), "datagram " + i + ", IPv6 " + v6);
        }
    }

    /** Whether the running kernel is MAJOR.MINOR or later (uname's release). */
    static boolean kernelAtLeast(int major, int minor) {
        String[] v = System.getProperty("os.version").split("[.-]");
        int a = Integer.parseInt(v[0]);
        int b = Integer.parseInt(v[1]);
        return a > major || a == major && b >= minor;
    }

    /** What forwarding does to a packet's IP header. */
    private static void forwarded(ByteBuffer p, boolean v6) {
        if (v6) {
            p.put(7, (byte) (p.get(7) - 1));
        } else {
            p.put(8, (byte) (p.get(8) - 1));
            io.tunshape.tun.Checksum.ipv4Header(p, 0);
        }
    }

    /**
     * A super-frame as a TCP sender's stack hands one to a device with TSO: the first segment's
     * headers (with timestamps) over all the payload, IPv4 identification of the first segment,
     * the pseudo-header's sum in the TCP checksum, and its virtio_net_hdr.
     */
    private static byte[] superFrame(boolean v6, int total, int mss) {
        int ipLen = v6 ? 40 : 20;
        int tcpLen = 32;
        ByteBuffer p = ByteBuffer.allocate(VnetHeader.LEN + ipLen + tcpLen + total);
        ByteBuffer h = ByteBuffer.allocate(VnetHeader.LEN).order(ByteOrder.nativeOrder());
        h.put((byte) 1).put((byte) (v6 ? 4 : 1)).putShort((short) (ipLen + tcpLen)).putShort((short) mss)
                .putShort((short) ipLen).putShort((short) 16);
        p.put(h.array());
        int ip = VnetHeader.LEN;
        if (v6) {
            p.putInt(ip, 0x6000_0000).putShort(ip + 4, (short) (tcpLen + total)).put(ip + 6, (byte) 6).put(ip + 7, (byte) 64);
            p.putLong(ip + 8, 0xFD00_0001_0000_0000L).putLong(ip + 16, 2);
            p.putLong(ip + 24, 0xFD00_0002_0000_0000L).putLong(ip + 32, 2);
        } else {
            p.put(ip, (byte) 0x45).putShort(ip + 2, (short) (ipLen + tcpLen + total)).putShort(ip + 4, (short) 0xFFF0)
                    .putShort(ip + 6, (short) 0x4000).put(ip + 8, (byte) 64).put(ip + 9, (byte) 6)
                    .putInt(ip + 12, 0xC612_0102).putInt(ip + 16, 0xC612_0202);
            io.tunshape.tun.Checksum.ipv4Header(p, ip);
        }
        int t = ip + ipLen;
        p.putShort(t, (short) 40000).putShort(t + 2, (short) 5201).putInt(t + 4, 0xFFFF_8000).putInt(t + 8, 77)
                .put(t + 12, (byte) 0x80).put(t + 13, (byte) 0x18).putShort(t + 14, (short) 501)
                .putInt(t + 20, 0x0101_080A).putInt(t + 24, 12345).putInt(t + 28, 678);
        Random r = new Random(v6 ? 6 : 4);
        for (int i = 0; i < total; i++) {
            p.put(t + tcpLen + i, (byte) r.nextInt());
        }
        long sum = io.tunshape.tun.Checksum.pseudo(p, ip, v6, 6, tcpLen + total);
        p.putShort(t + 16, (short) io.tunshape.tun.Checksum.fold(sum));
        return p.array();
    }

    private static void drain(TunDevice d) {
        ByteBuffer b = ByteBuffer.allocateDirect(70_000);
        while (Sys.read(d.fd(), Sys.address(b), b.capacity()) >= 0) {
            // router solicitations and the like from bringing the devices up
        }
    }

    /** The next {@code n} TCP packets the plain device delivers (others, such as IPv6 chatter, skipped). */
    private static List<byte[]> readAll(TunDevice d, int n) throws InterruptedException {
        return readAll(d, n, 6);
    }

    /** The next {@code n} packets of {@code protocol} the plain device delivers. */
    private static List<byte[]> readAll(TunDevice d, int n, int protocol) throws InterruptedException {
        List<byte[]> got = new ArrayList<>();
        ByteBuffer b = ByteBuffer.allocateDirect(70_000);
        long end = System.currentTimeMillis() + 5000;
        while (got.size() < n && System.currentTimeMillis() < end) {
            int r = Sys.read(d.fd(), Sys.address(b), b.capacity());
            if (r < 0) {
                Sys.poll(d.fd(), Sys.POLLIN, 100);
                continue;
            }
            boolean v6 = (b.get(0) & 0xF0) == 0x60;
            if ((v6 ? b.get(6) : b.get(9)) != protocol) {
                continue;
            }
            byte[] f = new byte[r];
            b.get(0, f);
            got.add(f);
        }
        assertEquals(n, got.size(), "packets out of the plain device");
        return got;
    }

    /** Two namespaces, a veth between them, a pump in each; {@code offloadA/B}: false adds --no-offload. */
    private static final class Link implements AutoCloseable {
        final KernelNs a = KernelNs.create();
        final KernelNs b = KernelNs.create();
        final List<PumpProcess> pumps = new ArrayList<>();

        Link(boolean offloadA, boolean offloadB) throws Exception {
            KernelNs.run("ip", "link", "add", "va", "netns", a.name(), "type", "veth", "peer", "name", "vb", "netns",
                    b.name());
            a.ip("addr", "add", "198.19.0.1/24", "dev", "va");
            b.ip("addr", "add", "198.19.0.2/24", "dev", "vb");
            a.ip("link", "set", "va", "up");
            b.ip("link", "set", "vb", "up");
            start(a, "198.19.0.2", "198.19.0.1", offloadA);
            start(b, "198.19.0.1", "198.19.0.2", offloadB);
            for (PumpProcess p : pumps) {
                assertTrue(p.await("moving frames", 15_000), p.lines().toString());
            }
            a.ip("addr", "add", "198.18.0.1/30", "dev", "t0");
            b.ip("addr", "add", "198.18.0.2/30", "dev", "t0");
            a.ip("addr", "add", "fd00::1/64", "dev", "t0", "nodad");
            b.ip("addr", "add", "fd00::2/64", "dev", "t0", "nodad");
            for (KernelNs ns : new KernelNs[] {a, b}) {
                // the underlay's MTU less IP and UDP headers: no tunnel packet is fragmented
                ns.ip("link", "set", "t0", "mtu", "1472", "up");
            }
        }

        private void start(KernelNs ns, String peer, String self, boolean offload) throws Exception {
            List<String> args = new ArrayList<>(List.of("--netns", ns.name(), "--json", "pump", "--dev", "t0",
                    "--create", "--backend", "udp:" + peer + ":7000", "--listen", self + ":7000", "--stats",
                    "--report-interval", "100ms", "--report", "/run/tunshape-test-none.sock"));
            if (!offload) {
                args.add("--no-offload");
            }
            pumps.add(new PumpProcess(args.toArray(new String[0])));
        }

        @Override
        public void close() {
            for (PumpProcess p : pumps) {
                p.close();
            }
            a.close();
            b.close();
        }
    }

    /** Sends {@code bytes} of random data over TCP from {@code from} to {@code to}; returns both SHA-256 sums. */
    private static String[] transfer(KernelNs from, KernelNs to, String toAddr, int port, int bytes) throws Exception {
        try (ServerSocket server = Netns.run(to.name(), () -> new ServerSocket(port, 1, InetAddress.getByName(toAddr)))) {
            server.setSoTimeout(20_000);
            String[] sums = new String[2];
            Thread rx = new Thread(() -> {
                try (Socket s = server.accept(); InputStream in = s.getInputStream()) {
                    s.setSoTimeout(20_000);
                    MessageDigest md = MessageDigest.getInstance("SHA-256");
                    byte[] buf = new byte[65536];
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        md.update(buf, 0, n);
                    }
                    sums[1] = HEX.formatHex(md.digest());
                } catch (Exception e) {
                    sums[1] = "receiver failed: " + e;
                }
            });
            rx.start();
            // connected inside the namespace: a Socket's descriptor is made at connect, not at new
            try (Socket s = Netns.run(from.name(), () -> {
                Socket c = new Socket();
                c.connect(new InetSocketAddress(toAddr, port), 10_000);
                return c;
            })) {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                Random r = new Random(port);
                byte[] buf = new byte[100_000];
                OutputStream out = s.getOutputStream();
                for (int sent = 0; sent < bytes; sent += buf.length) {
                    r.nextBytes(buf);
                    int n = Math.min(buf.length, bytes - sent);
                    out.write(buf, 0, n);
                    md.update(buf, 0, n);
                }
                s.shutdownOutput();
                sums[0] = HEX.formatHex(md.digest());
                rx.join(30_000);
            }
            return sums;
        }
    }

    /** UDP datagrams from a to b while TCP runs; how many of {@code count} arrived intact. */
    private static int udp(KernelNs from, KernelNs to, String toAddr, int count) throws Exception {
        InetAddress dst = InetAddress.getByName(toAddr);
        try (DatagramSocket rx = Netns.run(to.name(), () -> new DatagramSocket(9, dst));
             DatagramSocket tx = Netns.run(from.name(), () -> new DatagramSocket(0))) {
            // the receiver stops after this long without a datagram: under TCG the pumps, slowed down
            // beside the two transfers, left gaps longer than 300 ms
            rx.setSoTimeout((int) Bounds.millis(300));
            AtomicInteger intact = new AtomicInteger();
            Thread t = new Thread(() -> {
                byte[] buf = new byte[2000];
                while (true) {
                    DatagramPacket p = new DatagramPacket(buf, buf.length);
                    try {
                        rx.receive(p);
                        DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(buf, 0, p.getLength()));
                        int i = in.readInt();
                        boolean ok = p.getLength() == 100 + i;
                        for (int k = 4; k < p.getLength(); k++) {
                            ok &= buf[k] == (byte) (i + k);
                        }
                        if (ok) {
                            intact.incrementAndGet();
                        }
                    } catch (SocketTimeoutException e) {
                        return;
                    } catch (Exception e) {
                        return;
                    }
                }
            });
            t.start();
            for (int i = 0; i < count; i++) {
                byte[] b = new byte[100 + i];
                ByteBuffer.wrap(b).putInt(i);
                for (int k = 4; k < b.length; k++) {
                    b[k] = (byte) (i + k);
                }
                tx.send(new DatagramPacket(b, b.length, dst, 9));
                Thread.sleep(2);
            }
            t.join(5000);
            return intact.get();
        }
    }

    private static void mixedTraffic(Link link, String v4or6a, String v4or6b) throws Exception {
        String[][] tcp = new String[2][];
        Thread ab = new Thread(() -> {
            try {
                tcp[0] = transfer(link.a, link.b, v4or6b, 5001, 40_000_000);
            } catch (Exception e) {
                tcp[0] = new String[] {"failed", e.toString()};
            }
        });
        Thread ba = new Thread(() -> {
            try {
                tcp[1] = transfer(link.b, link.a, v4or6a, 5002, 20_000_000);
            } catch (Exception e) {
                tcp[1] = new String[] {"failed", e.toString()};
            }
        });
        ab.start();
        ba.start();
        int got = udp(link.a, link.b, v4or6b, 300);
        String ping = link.a.exec(List.of("ping", "-c", "5", "-i", "0.2", "-W", "2", v4or6b));
        ab.join(60_000);
        ba.join(60_000);
        assertEquals(tcp[0][0], tcp[0][1], "TCP a -> b, SHA-256 sent and received");
        assertEquals(tcp[1][0], tcp[1][1], "TCP b -> a, SHA-256 sent and received");
        // natively all but a few; under TCG the pumps fall behind the two transfers and tun's ring
        // drops (122 and 133 of 300 were seen on 5.10 and 7.3): what arrives must still be intact
        int least = Bounds.atLeast(290, 100, "UDP datagrams intact of 300 beside two TCP transfers");
        assertTrue(got >= least, "UDP datagrams intact: " + got + " of 300 (at least " + least + ")");
        // natively every echo comes back beside the two transfers; under TCG the pumps fall behind
        // the transfers and one echo in five was seen lost (6.1)
        int echoes = Bounds.atLeast(5, 3, "echoes of 5 beside two TCP transfers");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+) received").matcher(ping);
        assertTrue(m.find() && Integer.parseInt(m.group(1)) >= echoes, ping);
    }

    @Test
    void tcpUdpAndIcmpCrossPumpsWithOffloadsOnOneSideAndOnBoth() throws Exception {
        try (Link link = new Link(true, false)) {
            assertTrue(link.pumps.get(0).lines().stream().anyMatch(l -> l.contains("tun offloads: checksum, TSO (IPv4, "
                    + "IPv6)")), link.pumps.get(0).lines().toString());
            assertTrue(link.pumps.get(1).lines().stream().noneMatch(l -> l.contains("tun offloads")),
                    link.pumps.get(1).lines().toString());
            mixedTraffic(link, "198.18.0.1", "198.18.0.2");
            mixedTraffic(link, "fd00::1", "fd00::2");
            // what pump a counted is what crossed the link: b, without offloads, writes each packet to
            // its tun as it came, so b's t0 receives what a measured (frames and bytes), while a's t0
            // handed a super-frames
            Thread.sleep(400);
            long frames = 0;
            long bytes = 0;
            ObjectMapper json = new ObjectMapper();
            for (String l : link.pumps.get(0).lines()) {
                if (l.startsWith("{")) {
                    JsonNode n = json.readTree(l);
                    frames += n.get("tx_frames").asLong();
                    bytes += n.get("tx_bytes").asLong();
                }
            }
            long[] b = counters(link.b, "t0", "rx");
            long[] a = counters(link.a, "t0", "tx");
            assertTrue(frames > 40_000 && b[1] <= frames && b[1] >= frames * 0.99, "a measured " + frames
                    + " frames, b's t0 received " + b[1]);
            assertTrue(b[0] <= bytes && b[0] >= bytes * 0.99, "a measured " + bytes + " bytes, b's t0 received " + b[0]);
            // natively a's TCP sender hands tun more than 5 segments a super-frame; under TCG 3.8 was seen
            int per = Bounds.atLeast(5, 2, "segments per super-frame from a's t0");
            assertTrue(a[1] * per < frames, "a's t0 handed over " + a[1] + " frames (super-frames) for " + frames);
        }
        try (Link link = new Link(true, true)) {
            mixedTraffic(link, "198.18.0.1", "198.18.0.2");
        }
    }

    /** Bytes and packets a device sent or received ({@code dir} tx or rx), from /sys inside the namespace. */
    private static long[] counters(KernelNs ns, String dev, String dir) {
        String b = ns.exec(List.of("cat", "/sys/class/net/" + dev + "/statistics/" + dir + "_bytes")).trim();
        String p = ns.exec(List.of("cat", "/sys/class/net/" + dev + "/statistics/" + dir + "_packets")).trim();
        return new long[] {Long.parseLong(b), Long.parseLong(p)};
    }
}
