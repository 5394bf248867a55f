package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.netlink.Netns;
import io.tunshape.pump.TraceModel;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import io.tunshape.testing.PumpProcess;
import org.junit.jupiter.api.Test;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pump against the real kernel: two namespaces joined by a veth underlay (198.19.0.0/24),
 * a pump in each over udp, tun devices 198.18.0.1 and .2 on top. All traffic stays inside them.
 */
class PumpKernelTest {
    /** Two namespaces, a veth between them, and a pump in each making a virtual link. */
    private static final class VirtualLink implements AutoCloseable {
        final KernelNs a = KernelNs.create();
        final KernelNs b = KernelNs.create();
        final List<PumpProcess> pumps = new ArrayList<>();

        VirtualLink(String... emulation) throws Exception {
            KernelNs.run("ip", "link", "add", "va", "netns", a.name(), "type", "veth", "peer", "name", "vb", "netns",
                    b.name());
            a.ip("addr", "add", "198.19.0.1/24", "dev", "va");
            b.ip("addr", "add", "198.19.0.2/24", "dev", "vb");
            a.ip("link", "set", "va", "up");
            b.ip("link", "set", "vb", "up");
            start(a, "198.19.0.2", "198.19.0.1", emulation);
            start(b, "198.19.0.1", "198.19.0.2", emulation);
            for (PumpProcess p : pumps) {
                assertTrue(p.await("moving frames", 15_000), p.lines().toString());
            }
            for (KernelNs ns : new KernelNs[] {a, b}) {
                ns.exec(List.of("sysctl", "-q", "-w", "net.ipv6.conf.t0.disable_ipv6=1"));
                ns.ip("link", "set", "t0", "up");
            }
            a.ip("addr", "add", "198.18.0.1/30", "dev", "t0");
            b.ip("addr", "add", "198.18.0.2/30", "dev", "t0");
        }

        private void start(KernelNs ns, String peer, String self, String... emulation) throws Exception {
            List<String> args = new ArrayList<>(List.of("--netns", ns.name(), "--json", "pump", "--dev", "t0",
                    "--create", "--backend", "udp:" + peer + ":7000", "--listen", self + ":7000", "--stats",
                    "--report", "/run/tunshape-test-none.sock"));
            args.addAll(List.of(emulation));
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

    @Test
    void pingCrossesA9600BitLinkWithTheRoundTripItImplies() throws Exception {
        try (VirtualLink link = new VirtualLink("--emulate-rate", "9600bit")) {
            String out = link.a.exec(List.of("ping", "-c", "5", "-i", "0.5", "-W", "5", "198.18.0.2"));
            Matcher m = Pattern.compile("= ([0-9.]+)/([0-9.]+)/([0-9.]+)").matcher(out);
            assertTrue(m.find(), out);
            double avg = Double.parseDouble(m.group(2));
            // 84-byte IP packets at 1200 bytes/s: 70 ms each way
            assertTrue(avg >= 138 && avg <= 175, "average round trip " + avg + " ms, expected about 140: " + out);
            assertTrue(out.contains("5 received"), out);
            for (PumpProcess p : link.pumps) {
                assertEquals(0, p.stop(), "SIGTERM ends the pump cleanly: " + p.lines());
            }
        }
    }

    @Test
    void backpressureOverTheVirtualLinkLosesNothingAndFillsIt() throws Exception {
        try (VirtualLink link = new VirtualLink("--emulate-rate", "9600bit")) {
            // the ring after the qdisc must hold a bucketful of small packets: 1500 bytes of 128-byte ones
            CliRun r = CliRun.of("--netns", link.a.name(), "apply", "t0", "--rate", "9600bit", "--mode", "backpressure",
                    "--txqueuelen", "32");
            assertEquals(0, r.status(), r.toString());
            InetAddress peer = InetAddress.getByName("198.18.0.2");
            try (DatagramSocket rx = Netns.run(link.b.name(), () -> new DatagramSocket(9, peer));
                 DatagramSocket tx = Netns.run(link.a.name(), DatagramSocket::new)) {
                rx.setSoTimeout(200);
                List<long[]> got = new ArrayList<>();
                Thread receiver = new Thread(() -> {
                    byte[] buf = new byte[2048];
                    long end = System.currentTimeMillis() + 30_000;
                    while (System.currentTimeMillis() < end) {
                        DatagramPacket p = new DatagramPacket(buf, buf.length);
                        try {
                            rx.receive(p);
                            synchronized (got) {
                                got.add(new long[] {System.nanoTime(), p.getLength() + 28});
                            }
                        } catch (SocketTimeoutException e) {
                            synchronized (got) {
                                if (got.size() >= 120) {
                                    return;
                                }
                            }
                        } catch (Exception e) {
                            return;
                        }
                    }
                });
                receiver.start();
                // 120 datagrams of 100 bytes (128 on the link) = 15360 bytes: 12.8 s at 1200 bytes/s
                byte[] payload = new byte[100];
                for (int i = 0; i < 120; i++) {
                    tx.send(new DatagramPacket(payload, payload.length, peer, 9));
                }
                receiver.join(40_000);
                List<long[]> g;
                synchronized (got) {
                    g = new ArrayList<>(got);
                }
                assertEquals(120, g.size(), "nothing lost");
                JsonNode dev = readJson(CliRun.of("--netns", link.a.name(), "--json", "show", "t0").out())
                        .get("interfaces").get(0);
                assertEquals(0, dev.get("qdisc").get("stats").get("drops").asLong(), dev.toString());
                assertEquals(0, dev.get("tx_dropped").asLong(), dev.toString());
                long bytes = 0;
                for (int i = 11; i < g.size(); i++) {
                    bytes += g.get(i)[1];
                }
                double rate = bytes / ((g.get(g.size() - 1)[0] - g.get(10)[0]) / 1e9);
                System.out.printf("virtual link: 120/120 delivered at %.1f B/s of 1200%n", rate);
                assertTrue(rate >= 0.97 * 1200 && rate <= 1.03 * 1200, "delivered " + rate + " B/s of 1200");
            }
        }
    }

    /** Payload {@code seq} of {@code size} bytes: the sequence number, then bytes that depend on both. */
    private static byte[] numbered(int seq, int size) {
        byte[] b = new byte[size];
        java.nio.ByteBuffer.wrap(b).putInt(seq);
        for (int k = 4; k < size; k++) {
            b[k] = (byte) (seq * 7 + k);
        }
        return b;
    }

    @Test
    void burstsOfMixedSizesCrossInOrderByteForByte() throws Exception {
        // runs of equal frames go through the udp backend as one segmented send; shorter, longer
        // and fragmented ones (2800 bytes is two IP fragments) break the runs
        int[] sizes = {1200, 1200, 1200, 64, 1400, 1400, 1400, 2800, 1200, 500, 1400, 1400};
        int bursts = 30;
        try (VirtualLink link = new VirtualLink()) {
            InetAddress peer = InetAddress.getByName("198.18.0.2");
            try (DatagramSocket rx = Netns.run(link.b.name(), () -> new DatagramSocket(9100, peer));
                 DatagramSocket tx = Netns.run(link.a.name(), DatagramSocket::new)) {
                rx.setSoTimeout(3000);
                List<byte[]> got = java.util.Collections.synchronizedList(new ArrayList<>());
                Thread receiver = new Thread(() -> {
                    while (got.size() < bursts * sizes.length) {
                        DatagramPacket p = new DatagramPacket(new byte[4096], 4096);
                        try {
                            rx.receive(p);
                        } catch (Exception e) {
                            return;
                        }
                        got.add(java.util.Arrays.copyOf(p.getData(), p.getLength()));
                    }
                });
                receiver.start();
                int seq = 0;
                for (int burst = 0; burst < bursts; burst++) {
                    // at most two bursts in flight: what is tested is the pumps' order and bytes, not
                    // whether this test's receiving thread gets a CPU before its socket's buffer fills
                    // (on a loaded machine it did not, and the kernel dropped datagrams at the socket)
                    long until = System.nanoTime() + 3_000_000_000L;
                    while (got.size() < seq - 2 * sizes.length && System.nanoTime() < until) {
                        Thread.sleep(1);
                    }
                    for (int size : sizes) {
                        byte[] b = numbered(seq++, size);
                        tx.send(new DatagramPacket(b, b.length, peer, 9100));
                    }
                    Thread.sleep(2);
                }
                receiver.join(20_000);
                int arrived = got.size();
                // on failure, where they were lost: the receiving socket's buffer, or a tun's counters
                assertEquals(seq, arrived, () -> "every datagram arrived; b: "
                        + link.b.exec(List.of("nstat", "-az", "UdpRcvbufErrors", "UdpInErrors", "UdpInDatagrams"))
                        + link.a.exec(List.of("ip", "-s", "link", "show", "t0"))
                        + link.b.exec(List.of("ip", "-s", "link", "show", "t0")));
                for (int i = 0; i < seq; i++) {
                    org.junit.jupiter.api.Assertions.assertArrayEquals(numbered(i, sizes[i % sizes.length]), got.get(i),
                            "datagram " + i + " arrived whole and in order");
                }
            }
        }
    }

    /** A UDP sender in {@code ns} offering about {@code pps} 1472-byte datagrams a second for {@code seconds}. */
    private static void saturate(KernelNs ns, int pps, double seconds) throws Exception {
        InetAddress peer = InetAddress.getByName("198.18.0.2");
        try (DatagramSocket tx = Netns.run(ns.name(), DatagramSocket::new)) {
            byte[] payload = new byte[1472];
            long start = System.nanoTime();
            long n = (long) (pps * seconds);
            for (long i = 0; i < n; i++) {
                long due = start + (long) (i * 1e9 / pps);
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                }
                tx.send(new DatagramPacket(payload, payload.length, peer, 9));
            }
        }
    }

    private static List<JsonNode> intervals(PumpProcess p) {
        List<JsonNode> out = new ArrayList<>();
        for (String l : p.lines()) {
            if (l.startsWith("{\"v\":1")) {
                out.add(readJson(l));
            }
        }
        return out;
    }

    @Test
    void capacityEstimateMatchesTheEmulatedRate() throws Exception {
        try (VirtualLink link = new VirtualLink("--emulate-rate", "1mbit", "--report-interval", "500ms")) {
            saturate(link.a, 200, 3.0); // 2.4 Mbit/s offered to a 1 Mbit/s link
            Thread.sleep(600);
            List<JsonNode> iv = intervals(link.pumps.get(0));
            int saturated = 0;
            for (JsonNode j : iv) {
                if (j.get("tx_frames").asLong() >= 20 && j.has("capacity_bps")) {
                    saturated++;
                    double c = j.get("capacity_bps").asDouble();
                    assertEquals(1_000_000, c, 50_000, "capacity estimate within 5%: " + j);
                }
            }
            assertTrue(saturated >= 4, "saturated intervals: " + iv);
        }
    }

    @Test
    void capacityEstimateFollowsATrace() throws Exception {
        Path trace = Path.of("src/test/resources/traces/ATT-LTE-driving-2016.up");
        long[] ops = TraceModel.read(trace);
        try (VirtualLink link = new VirtualLink("--emulate-trace", trace.toString(), "--report-interval", "1s")) {
            // 18 Mbit/s offered: above the trace's busiest second (12.8 Mbit/s); it averages 1.9 Mbit/s
            saturate(link.a, 1500, 8.0);
            Thread.sleep(1200);
            List<JsonNode> iv = intervals(link.pumps.get(0));
            int checked = 0;
            for (JsonNode j : iv) {
                // saturated: the link was busy through the whole interval (the first one, while the
                // sender starts, or one with an idle moment, compares a part with the whole window)
                long busy = j.get("busy_ms").asLong();
                long len = j.get("interval_ms").asLong();
                if (!j.has("capacity_bps") || j.get("tx_frames").asLong() < 20 || busy < 0.97 * len || busy > 1.03 * len) {
                    continue;
                }
                long end = j.get("t_ms").asLong();
                long startMs = end - j.get("interval_ms").asLong();
                long inWindow = 0;
                for (long t : ops) {
                    if (t >= startMs && t < end) {
                        inWindow++;
                    }
                }
                double expected = inWindow * 1500 * 8 / (j.get("interval_ms").asLong() / 1000.0);
                double c = j.get("capacity_bps").asDouble();
                System.out.printf("trace interval ending %d ms: estimate %.0f bit/s, trace %.0f bit/s%n", end, c,
                        expected);
                assertEquals(expected, c, expected * 0.10, "within 10% of the trace: " + j);
                checked++;
            }
            assertTrue(checked >= 3, "saturated intervals: " + iv);
        }
    }
}
