package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.netlink.Netns;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import io.tunshape.testing.TunReader;
import io.tunshape.tun.TunDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a profile does to real traffic: a UDP sender with default socket buffers in a namespace,
 * a tun device, and a reader standing in for the backend. Every sending loop is bounded in count
 * and time; traffic goes to 198.18.0.2 through the tun device and nowhere else.
 */
class BehaviourKernelTest {
    private static final InetAddress PEER = address();
    private static final int PAYLOAD = 1000;
    private static final int IP_LEN = PAYLOAD + 28;

    private static InetAddress address() {
        try {
            return InetAddress.getByName("198.18.0.2");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A namespace with tun device t0 (attached, up, 198.18.0.1 peer 198.18.0.2). */
    private static final class Lab implements AutoCloseable {
        final KernelNs ns = KernelNs.create();
        final TunDevice dev;

        Lab() throws Exception {
            ns.tun("t0");
            // no IPv6 on t0: router solicitations would mix with the test's packets
            ns.exec(List.of("sysctl", "-q", "-w", "net.ipv6.conf.t0.disable_ipv6=1"));
            dev = Netns.run(ns.name(), () -> TunDevice.open("t0", false));
            ns.ip("addr", "add", "198.18.0.1", "peer", "198.18.0.2", "dev", "t0");
            ns.ip("link", "set", "t0", "up");
        }

        DatagramSocket socket(int tos) throws Exception {
            DatagramSocket s = Netns.run(ns.name(), DatagramSocket::new);
            s.setTrafficClass(tos);
            return s;
        }

        JsonNode show() {
            CliRun r = CliRun.of("--netns", ns.name(), "--json", "show", "t0");
            assertEquals(0, r.status(), r.toString());
            return readJson(r.out()).get("interfaces").get(0);
        }

        @Override
        public void close() {
            dev.close();
            ns.close();
        }
    }

    private static Path profile(Path dir, String name, String body) throws Exception {
        Path f = dir.resolve(name + ".yaml");
        Files.writeString(f, "name: " + name + "\ndescription: test link\nsource: test\n" + body);
        return f;
    }

    /** The test's own datagrams (stamped UDP), without anything the kernel sent by itself. */
    private static List<TunReader.Arrival> ours(List<TunReader.Arrival> all) {
        return all.stream().filter(x -> x.seq() >= 0).toList();
    }

    /** Bytes per second between the {@code from}-th and {@code to}-th arrival (IP lengths). */
    private static double rate(List<TunReader.Arrival> a, int from, int to) {
        long bytes = 0;
        for (int i = from + 1; i <= to; i++) {
            bytes += a.get(i).length();
        }
        return bytes / ((a.get(to).nanos() - a.get(from).nanos()) / 1e9);
    }

    private static void waitForDrain(Lab lab, long maxMillis) throws InterruptedException {
        long end = System.currentTimeMillis() + maxMillis;
        while (System.currentTimeMillis() < end) {
            if (lab.show().get("qdisc").get("stats").get("backlog_packets").asLong() == 0) {
                return;
            }
            Thread.sleep(50);
        }
    }

    @Test
    void backpressureBlocksTheSenderAndLosesNothing(@TempDir Path dir) throws Exception {
        Path p = profile(dir, "bp-1mbit", "link:\n  rate: 1mbit\nshaping:\n  mode: backpressure\n");
        try (Lab lab = new Lab()) {
            CliRun r = CliRun.of("--netns", lab.ns.name(), "apply", "t0", "-p", p.toString());
            assertEquals(0, r.status(), r.toString());
            int n = 600; // 617 KB: about 4.9 s at 1 Mbit/s, more than three times the queue
            try (TunReader reader = new TunReader(lab.dev, 125_000, 0); DatagramSocket s = lab.socket(0)) {
                long t0 = System.nanoTime();
                int sent = 0;
                long deadline = t0 + 20_000_000_000L;
                for (int i = 0; i < n && System.nanoTime() < deadline; i++) {
                    byte[] b = TunReader.payload(PAYLOAD, i);
                    s.send(new DatagramPacket(b, b.length, PEER, 9));
                    sent++;
                }
                double senderSeconds = (System.nanoTime() - t0) / 1e9;
                waitForDrain(lab, 10_000);
                Thread.sleep(300);
                List<TunReader.Arrival> a = ours(reader.arrivals());
                JsonNode dev = lab.show();
                JsonNode stats = dev.get("qdisc").get("stats");
                assertEquals(n, sent);
                assertEquals(0, stats.get("drops").asLong(), "no drops in the qdisc: " + stats);
                assertEquals(0, dev.get("tx_dropped").asLong(), "no drops at tun: " + dev);
                assertEquals(sent, a.size(), "everything sent was delivered");
                // the sender was held back: sending took about (total - queue) / rate, not milliseconds
                double held = (n * (double) IP_LEN - 214_492) / 125_000;
                assertTrue(senderSeconds > 0.7 * held, "the sender blocked: it took " + senderSeconds + " s");
                double rate = rate(a, 50, n - 50);
                System.out.printf("backpressure: sent %d, delivered %d, qdisc drops %d, tun drops %d, sender %.2f s, "
                        + "delivered %.0f B/s (link 125000)%n", sent, a.size(), stats.get("drops").asLong(),
                        dev.get("tx_dropped").asLong(), senderSeconds, rate);
                assertEquals(125_000, rate, 125_000 * 0.03, "delivered rate " + rate + " B/s");
            }
        }
    }

    @Test
    void latencyModeBoundsTheWaitAndCountsTheDrops(@TempDir Path dir) throws Exception {
        Path p = profile(dir, "lat-1mbit", "link:\n  rate: 1mbit\nshaping:\n  mode: latency\n  latency: 200ms\n");
        try (Lab lab = new Lab()) {
            assertEquals(0, CliRun.of("--netns", lab.ns.name(), "apply", "t0", "-p", p.toString()).status());
            int sent = 0;
            try (TunReader reader = new TunReader(lab.dev, 0, 0); DatagramSocket s = lab.socket(0)) {
                long end = System.nanoTime() + 3_000_000_000L;
                for (int i = 0; i < 200_000 && System.nanoTime() < end; i++) {
                    byte[] b = TunReader.payload(PAYLOAD, i);
                    s.send(new DatagramPacket(b, b.length, PEER, 9));
                    sent++;
                    if (i % 64 == 0) {
                        Thread.sleep(1); // saturating the link many times over, yielding now and then
                    }
                }
                waitForDrain(lab, 5_000);
                Thread.sleep(300);
                List<TunReader.Arrival> a = ours(reader.arrivals());
                JsonNode dev = lab.show();
                long drops = dev.get("qdisc").get("stats").get("drops").asLong();
                assertTrue(drops > 0, "excess is dropped");
                assertEquals(sent, a.size() + drops + dev.get("tx_dropped").asLong(),
                        "every packet is delivered or counted as dropped");
                double frameMs = IP_LEN / 125.0;
                // the longest wait the qdisc allows is its limit at its rate, as the kernel holds them
                // (212 ms here: the latency's 200 and the burst's 12, as the plan says), then one
                // frame time and a scheduling margin
                JsonNode q = dev.get("qdisc");
                double queueMs = q.get("limit_bytes").asLong() * 8000.0 / q.get("rate_bps").asLong();
                double boundMs = queueMs + frameMs + 15;
                double worst = 0;
                for (TunReader.Arrival x : a) {
                    worst = Math.max(worst, (x.nanos() - x.sentNanos()) / 1e6);
                }
                System.out.printf("latency: sent %d, delivered %d, qdisc drops %d, longest wait %.1f ms (bound %.1f)%n",
                        sent, a.size(), drops, worst, boundMs);
                assertTrue(worst <= boundMs, "longest wait " + worst + " ms, bound " + boundMs + " ms");
                assertTrue(worst >= 150, "the queue did fill: longest wait " + worst + " ms");
            }
        }
    }

    @Test
    void htbPriorityClassKeepsItsRateUnderSaturation(@TempDir Path dir) throws Exception {
        Path p = profile(dir, "prio-1mbit", """
                link:
                  rate: 1mbit
                shaping:
                  qdisc: htb
                  mode: latency
                  latency: 300ms
                  classes:
                    - name: voice
                      rate: 300kbit
                      prio: 0
                      match: {dscp: EF}
                    - name: bulk
                      rate: 700kbit
                      prio: 1
                      default: true
                """);
        try (Lab lab = new Lab()) {
            CliRun r = CliRun.of("--netns", lab.ns.name(), "apply", "t0", "-p", p.toString());
            assertEquals(0, r.status(), r.toString());
            try (TunReader reader = new TunReader(lab.dev, 0, 0); DatagramSocket bulk = lab.socket(0);
                 DatagramSocket voice = lab.socket(0xb8)) {
                long start = System.nanoTime();
                long end = start + 4_000_000_000L;
                Thread bulkSender = new Thread(() -> {
                    try {
                        for (int i = 0; i < 400_000 && System.nanoTime() < end; i++) {
                            byte[] b = TunReader.payload(PAYLOAD, i);
                            bulk.send(new DatagramPacket(b, b.length, PEER, 9));
                            if (i % 64 == 0) {
                                Thread.sleep(1);
                            }
                        }
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                bulkSender.start();
                // voice offers 200 kbit/s (25 x 1000-byte datagrams a second), below its 300 kbit/s guarantee
                int voiceSent = 0;
                for (int i = 0; i < 100 && System.nanoTime() < end; i++) {
                    long due = start + i * 40_000_000L;
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                    }
                    byte[] b = TunReader.payload(PAYLOAD, i);
                    voice.send(new DatagramPacket(b, b.length, PEER, 9));
                    voiceSent++;
                }
                bulkSender.join(10_000);
                Thread.sleep(800);
                List<TunReader.Arrival> a = ours(reader.arrivals());
                long voiceGot = a.stream().filter(x -> x.dscp() == 46).count();
                assertEquals(voiceSent, voiceGot, "no voice packet lost while bulk saturates the link");
                // over the middle two seconds: voice at its offered rate, bulk takes the rest
                long from = start + 1_000_000_000L;
                long to = start + 3_000_000_000L;
                long voiceBytes = a.stream().filter(x -> x.dscp() == 46 && x.nanos() >= from && x.nanos() < to)
                        .mapToLong(TunReader.Arrival::length).sum();
                long bulkBytes = a.stream().filter(x -> x.dscp() == 0 && x.nanos() >= from && x.nanos() < to)
                        .mapToLong(TunReader.Arrival::length).sum();
                double voiceRate = voiceBytes / 2.0;
                double bulkRate = bulkBytes / 2.0;
                System.out.printf("htb: voice %d/%d delivered, voice %.0f B/s, bulk %.0f B/s%n", voiceGot, voiceSent,
                        voiceRate, bulkRate);
                assertEquals(25 * IP_LEN, voiceRate, 25 * IP_LEN * 0.1, "voice B/s");
                assertTrue(bulkRate > 0.6 * 125_000, "bulk got the rest: " + bulkRate + " B/s");
                assertEquals(125_000, voiceRate + bulkRate, 125_000 * 0.05, "the link is full and not exceeded");
                JsonNode bulkStats = lab.show().get("qdisc").get("classes").get(2).get("stats");
                assertTrue(bulkStats.get("drops").asLong() > 0, "bulk overflowed its bounded queue: " + bulkStats);
            }
        }
    }

    /** 200 or 208 kbit/s (25 000 or 26 000 B/s), a 30 kB bucket and a queue that holds 200 kB. */
    private static io.tunshape.profile.ShapingRequest changing(String qdisc, int k) {
        String rate = k % 2 == 0 ? "200kbit" : "208kbit";
        return new io.tunshape.profile.ShapingRequest(qdisc, io.tunshape.tc.Rate.parse(rate), rate, null,
                io.tunshape.tc.Size.parse("30000"), io.tunshape.tc.Size.parse("200000"), null, null, 1, 0, 0, null);
    }

    /**
     * Bytes the reader got in 2 s while the rate was changed every 200 ms, with a standing queue
     * behind the shaper (an unpaced reader: the shaper alone limits the rate).
     */
    private static long bytesWhileChanging(String qdisc) throws Exception {
        try (Lab lab = new Lab()) {
            io.tunshape.profile.Planner planner = new io.tunshape.profile.Planner(io.tunshape.tc.Psched.system(),
                    io.tunshape.profile.HostDefaults.wmemDefault());
            try (io.tunshape.shape.Session session = Netns.run(lab.ns.name(),
                    () -> new io.tunshape.shape.Session(lab.ns.name(), new io.tunshape.tc.TcCodec(
                            io.tunshape.tc.Psched.system())));
                 TunReader reader = new TunReader(lab.dev, 0, 0); DatagramSocket s = lab.socket(0)) {
                session.apply(List.of("t0"), changing(qdisc, 0), planner, false);
                s.setSendBufferSize(1 << 20); // the sender must not block: the whole burst is queued at once
                // 154 kB at once: a bucketful passes, the rest waits (about 5 s of it at the rate)
                for (int i = 0; i < 150; i++) {
                    byte[] b = TunReader.payload(PAYLOAD, i);
                    s.send(new DatagramPacket(b, b.length, PEER, 9));
                }
                Thread.sleep(1500); // the bucket is spent; about 86 kB still waits
                long from = System.nanoTime();
                for (int c = 1; c <= 10; c++) { // ten real changes, 200 ms apart
                    session.apply(List.of("t0"), changing(qdisc, c), planner, false);
                    Thread.sleep(200);
                }
                long to = System.nanoTime();
                long bytes = 0;
                for (TunReader.Arrival a : ours(reader.arrivals())) {
                    if (a.nanos() >= from && a.nanos() < to) {
                        bytes += a.length();
                    }
                }
                System.out.printf("%s: %d bytes in %.2f s of rate changes (%.0f B/s; the rate is 25000-26000 B/s)%n",
                        qdisc, bytes, (to - from) / 1e9, bytes / ((to - from) / 1e9));
                return bytes;
            }
        }
    }

    @Test
    void aTbfChangeLetsAFullBucketOutAndAnHtbClassChangeDoesNot() throws Exception {
        // why adaptive devices get htb: tbf refills its bucket at every change (tbf_change sets the
        // tokens to the full buffer), so each change lets up to a bucketful out at line speed
        long tbf = bytesWhileChanging("tbf");
        long htb = bytesWhileChanging("htb");
        // 2 s at 25-26 kB/s is 50-52 kB, and the queue holds more than that; a bucket is 30 kB
        assertTrue(htb >= 1.8 * 25_000 && htb <= 2.2 * 26_000 + 2 * IP_LEN,
                "htb held the rate through ten changes: " + htb + " bytes in 2 s");
        assertTrue(tbf >= htb + 25_000, "tbf changes let buckets out: " + tbf + " bytes against htb's " + htb);
    }
}
