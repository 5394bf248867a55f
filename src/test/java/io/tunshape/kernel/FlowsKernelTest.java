package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.netlink.Netns;
import io.tunshape.sys.Sys;
import io.tunshape.tc.U32FlowHash;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import io.tunshape.tun.TunDevice;
import org.junit.jupiter.api.Test;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Flow isolation on real traffic: bulk UDP senders with default socket buffers and sparse flows
 * through `apply --flows` on a tun device, drained by a reader standing in for the backend. The
 * flows are spread by a hash the test cannot choose, so it first finds, with one probe packet per
 * candidate, flows that land in different queues (flows sharing a queue share its turn; that is
 * hashing, and README gives its odds). Every sending loop is bounded in count and time; traffic
 * goes through the tun device to 198.18.0.2 (2001:2::2) and nowhere else.
 */
class FlowsKernelTest {
    private static final int BULK_PAYLOAD = 1000;
    private static final int SPARSE_PAYLOAD = 100;
    private static final InetAddress PEER = addr("198.18.0.2");
    private static final InetAddress PEER6 = addr("2001:2::2");

    private static InetAddress addr(String a) {
        try {
            return InetAddress.getByName(a);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** One packet read from tun: when, IP length, version, protocol, ports (ICMP: id), TCP flags, first 16 payload bytes. */
    record Arrival(long nanos, long epochMicros, int length, int version, int proto, int sport, int dport,
                   int tcpFlags, long stamp0, long stamp1) {
    }

    /** Reads tun as fast as it can (the qdisc is the bottleneck) and parses what arrived. */
    static final class Reader implements AutoCloseable {
        private final TunDevice dev;
        private final List<Arrival> arrivals = new ArrayList<>();
        private final Thread thread;
        private volatile boolean stop;

        Reader(TunDevice dev) {
            this.dev = dev;
            thread = new Thread(this::run, "flows-reader");
            thread.setDaemon(true);
            thread.start();
        }

        private void run() {
            ByteBuffer buf = ByteBuffer.allocateDirect(65536).order(ByteOrder.BIG_ENDIAN);
            while (!stop) {
                if ((Sys.poll(dev.fd(), Sys.POLLIN, 50) & Sys.POLLIN) == 0) {
                    continue;
                }
                buf.clear();
                int n = Sys.read(dev.fd(), buf);
                long now = System.nanoTime();
                Instant wall = Instant.now();
                int version = (buf.get(0) >> 4) & 0xF;
                int proto;
                int l4;
                if (version == 4 && n >= 20) {
                    proto = buf.get(9) & 0xFF;
                    l4 = (buf.get(0) & 0x0F) * 4;
                } else if (version == 6 && n >= 40) {
                    proto = buf.get(6) & 0xFF;
                    l4 = 40;
                } else {
                    continue;
                }
                int sport = -1;
                int dport = -1;
                int flags = 0;
                int data = -1;
                if ((proto == 17 || proto == 6) && n >= l4 + 8) {
                    sport = buf.getShort(l4) & 0xFFFF;
                    dport = buf.getShort(l4 + 2) & 0xFFFF;
                    if (proto == 17) {
                        data = l4 + 8;
                    } else if (n >= l4 + 14) {
                        flags = buf.get(l4 + 13) & 0xFF;
                    }
                } else if ((proto == 1 || proto == 58) && n >= l4 + 8) {
                    sport = buf.getShort(l4 + 4) & 0xFFFF; // echo identifier
                    dport = buf.get(l4) & 0xFF; // type
                    data = l4 + 8;
                }
                long s0 = -1;
                long s1 = -1;
                if (data >= 0 && n >= data + 16) {
                    s0 = buf.getLong(data);
                    s1 = buf.getLong(data + 8);
                }
                synchronized (arrivals) {
                    arrivals.add(new Arrival(now, wall.getEpochSecond() * 1_000_000 + wall.getNano() / 1000, n, version,
                            proto, sport, dport, flags, s0, s1));
                }
            }
        }

        List<Arrival> arrivals() {
            synchronized (arrivals) {
                return new ArrayList<>(arrivals);
            }
        }

        @Override
        public void close() {
            stop = true;
            try {
                thread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** A namespace with tun device t0 (attached, up, 198.18.0.1 peer 198.18.0.2, optionally 2001:2::1 peer 2001:2::2). */
    static final class Lab implements AutoCloseable {
        final KernelNs ns = KernelNs.create();
        final TunDevice dev;
        final Reader reader;

        Lab(boolean ipv6) throws Exception {
            ns.tun("t0");
            if (!ipv6) {
                ns.exec(List.of("sysctl", "-q", "-w", "net.ipv6.conf.t0.disable_ipv6=1"));
            } else {
                // fewer of IPv6's own packets among the test's
                ns.exec(List.of("sysctl", "-q", "-w", "net.ipv6.conf.t0.router_solicitations=0"));
            }
            dev = Netns.run(ns.name(), () -> TunDevice.open("t0", false));
            ns.ip("addr", "add", "198.18.0.1", "peer", "198.18.0.2", "dev", "t0");
            if (ipv6) {
                ns.ip("-6", "addr", "add", "2001:2::1", "peer", "2001:2::2", "dev", "t0", "nodad");
            }
            ns.ip("link", "set", "t0", "up");
            if (ipv6) {
                ns.ip("-6", "route", "replace", "2001:2::2", "dev", "t0");
            }
            reader = new Reader(dev);
        }

        CliRun apply(String... args) {
            List<String> a = new ArrayList<>(List.of("--netns", ns.name(), "apply", "t0"));
            a.addAll(List.of(args));
            CliRun r = CliRun.of(a.toArray(new String[0]));
            assertEquals(0, r.status(), r.toString());
            return r;
        }

        JsonNode show() {
            CliRun r = CliRun.of("--netns", ns.name(), "--json", "show", "t0");
            assertEquals(0, r.status(), r.toString());
            return readJson(r.out()).get("interfaces").get(0);
        }

        long[] queuePackets() {
            JsonNode q = show().get("qdisc").get("flows").get("queues");
            long[] out = new long[q.size()];
            for (int i = 0; i < q.size(); i++) {
                out[i] = q.get(i).get("stats").get("sent_packets").asLong();
            }
            return out;
        }

        /** The queue a probe's packet went through: the one whose counter moved. */
        int queueOf(Runnable probe) throws InterruptedException {
            long[] before = queuePackets();
            probe.run();
            for (int tries = 0; tries < 40; tries++) {
                long[] after = queuePackets();
                for (int i = 0; i < after.length; i++) {
                    if (after[i] > before[i]) {
                        return i;
                    }
                }
                Thread.sleep(25);
            }
            throw new AssertionError("the probe reached no flow queue");
        }

        /**
         * The queues whose counters a probe moved, waiting until one did. Background packets (IPv6's
         * own) go to the first queue, so a probe's queue is the one other than the first, if any.
         */
        Set<Integer> queuesMoved(Runnable probe) throws InterruptedException {
            long[] before = queuePackets();
            probe.run();
            for (int tries = 0; tries < 40; tries++) {
                long[] after = queuePackets();
                Set<Integer> moved = new HashSet<>();
                for (int i = 0; i < after.length; i++) {
                    if (after[i] > before[i]) {
                        moved.add(i);
                    }
                }
                if (!moved.isEmpty()) {
                    return moved;
                }
                Thread.sleep(25);
            }
            throw new AssertionError("the probe reached no flow queue");
        }

        DatagramSocket udp(InetAddress local) throws Exception {
            return Netns.run(ns.name(), () -> new DatagramSocket(new InetSocketAddress(local, 0)));
        }

        @Override
        public void close() {
            reader.close();
            dev.close();
            ns.close();
        }
    }

    private static byte[] stamped(int size, long flow, long seq) {
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.BIG_ENDIAN);
        b.putLong(0, flow << 32 | seq).putLong(8, System.nanoTime());
        return b.array();
    }

    private static void send(DatagramSocket s, byte[] b, InetAddress to) {
        try {
            s.send(new DatagramPacket(b, b.length, to, 9));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * {@code want} UDP sockets from {@code local} whose flows land in different queues, none of them in
     * {@code taken} (found by probing up to 40 candidates); their queues are added to {@code taken}.
     */
    private static List<DatagramSocket> distinctFlows(Lab lab, InetAddress local, InetAddress to, int want,
                                                      Set<Integer> taken) throws Exception {
        List<DatagramSocket> out = new ArrayList<>();
        for (int i = 0; i < 40 && out.size() < want; i++) {
            DatagramSocket s = lab.udp(local);
            int q = lab.queueOf(() -> send(s, stamped(16, 99, 0), to));
            if (taken.add(q)) {
                out.add(s);
            } else {
                s.close();
            }
        }
        assertEquals(want, out.size(), "could not find flows in distinct queues");
        return out;
    }

    /** A bulk sender: stamped datagrams back to back (blocking when its send buffer is full) until the deadline. */
    private static Thread bulk(DatagramSocket s, int flow, long deadline, int max, AtomicLong sent) {
        Thread t = new Thread(() -> {
            for (int i = 0; i < max && System.nanoTime() < deadline; i++) {
                send(s, stamped(BULK_PAYLOAD, flow, i), PEER);
                sent.incrementAndGet();
            }
        }, "bulk-" + flow);
        t.setDaemon(true);
        t.start();
        return t;
    }

    static double percentile(List<Double> v, double p) {
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        return s.get(Math.min(s.size() - 1, (int) Math.ceil(p / 100 * s.size()) - 1));
    }

    static double jain(List<Long> x) {
        double sum = 0;
        double sq = 0;
        for (long v : x) {
            sum += v;
            sq += (double) v * v;
        }
        return sum * sum / (x.size() * sq);
    }

    private static Predicate<Arrival> flow(int id) {
        return a -> a.proto() == 17 && a.stamp0() >>> 32 == id && a.stamp0() >= 0;
    }

    /**
     * Three bulk senders and one sparse flow (100-byte datagrams every {@code sparseEveryMs}) through 16
     * flow queues at {@code rate}: the sparse flow's p95 wait within {@code sparseBoundMs}, Jain's index of
     * the bulk flows' shares at least 0.95, nothing dropped (backpressure: the bulk senders block instead).
     */
    private static void threeBulkAndOneSparse(String rate, int seconds, int sparseEveryMs, double sparseBoundMs,
                                              String... applyArgs) throws Exception {
        try (Lab lab = new Lab(false)) {
            List<String> args = new ArrayList<>(List.of("--rate", rate, "--flows", "16"));
            args.addAll(List.of(applyArgs));
            lab.apply(args.toArray(new String[0]));
            Set<Integer> taken = new HashSet<>();
            List<DatagramSocket> socks = distinctFlows(lab, null, PEER, 4, taken);
            long t0 = System.nanoTime();
            long deadline = t0 + seconds * 1_000_000_000L;
            List<Thread> threads = new ArrayList<>();
            AtomicLong bulkSent = new AtomicLong();
            for (int f = 1; f <= 3; f++) {
                threads.add(bulk(socks.get(f - 1), f, deadline, 100_000, bulkSent));
            }
            DatagramSocket sparse = socks.get(3);
            int sparseSent = 0;
            for (int i = 0; i < seconds * 1000 / sparseEveryMs && System.nanoTime() < deadline; i++) {
                send(sparse, stamped(SPARSE_PAYLOAD, 4, i), PEER);
                sparseSent++;
                Thread.sleep(sparseEveryMs);
            }
            for (Thread t : threads) {
                t.join(seconds * 1000L + 60_000);
            }
            Thread.sleep(300);
            JsonNode shown = lab.show();
            for (DatagramSocket s : socks) {
                s.close();
            }
            List<Arrival> all = lab.reader.arrivals();
            List<Double> waits = new ArrayList<>();
            for (Arrival a : all) {
                if (flow(4).test(a)) {
                    waits.add((a.nanos() - a.stamp1()) / 1e6);
                }
            }
            assertEquals(sparseSent, waits.size(), "the sparse flow lost datagrams");
            double p95 = percentile(waits, 95);
            assertTrue(p95 <= sparseBoundMs, "sparse p95 wait " + p95 + " ms, bound " + sparseBoundMs + " ms");
            // bulk shares while all three were sending (after a second of start-up)
            List<Long> shares = new ArrayList<>();
            for (int f = 1; f <= 3; f++) {
                long bytes = 0;
                for (Arrival a : all) {
                    if (flow(f).test(a) && a.nanos() > t0 + 1_000_000_000L && a.nanos() < deadline) {
                        bytes += a.length();
                    }
                }
                shares.add(bytes);
            }
            double j = jain(shares);
            assertTrue(j >= 0.95, "Jain's index " + j + " of " + shares);
            assertEquals(0, shown.get("qdisc").get("stats").get("drops").asLong(), "qdisc drops: " + shown);
            assertEquals(0, shown.get("tx_dropped").asLong(), "tun drops: " + shown);
            System.out.printf("flows at %s: sparse p50 %.1f ms p95 %.1f ms (%d/%d), bulk shares %s Jain %.4f, "
                    + "bulk sent %d%n", rate, percentile(waits, 50), p95, waits.size(), sparseSent, shares, j,
                    bulkSent.get());
        }
    }

    @Test
    void aSparseFlowPassesThreeBulkSendersAtOneMegabit() throws Exception {
        threeBulkAndOneSparse("1mbit", 4, 100, 50);
    }

    @Test
    void aSparseFlowPassesThreeBulkSendersAt64Kbit() throws Exception {
        // the same shape scaled to the frame time: 1500 bytes take 187.5 ms at 64 kbit/s, 12 ms at 1 Mbit/s,
        // so 50 ms at 1 Mbit/s is about four frame times; the sparse flow sends every 400 ms (2.6 kbit/s, as
        // 10 kbit/s is at 1 Mbit/s: within its share of 16 queues)
        threeBulkAndOneSparse("64kbit", 6, 400, 4 * 187.5);
    }

    @Test
    void theU32FallbackIsolatesASparseFlowToo() throws Exception {
        // flows told apart by their source ports alone (the probe finds four that land apart)
        threeBulkAndOneSparse("1mbit", 4, 100, 50, "--flows-classifier", "u32");
    }

    /**
     * The u32 fallback's hash, checked packet by packet against the kernel: a UDP datagram from source
     * port p, over IPv4 (with and without IP options, which move the ports) and over IPv6, reaches the
     * queue {@link U32FlowHash#queueOfSourcePort} says; ICMP reaches the first queue.
     */
    @Test
    void theU32FallbackHashesTheSourcePortOverIpv4WithOptionsAndIpv6() throws Exception {
        try (Lab lab = new Lab(true)) {
            lab.apply("--rate", "10mbit", "--flows", "8", "--flows-classifier", "u32");
            Thread.sleep(300); // IPv6's own start-up packets pass first
            U32FlowHash hash = new U32FlowHash(8, 0x100, io.tunshape.tc.Tc.FLOW_FILTER_PRIO);
            Set<Integer> seen = new HashSet<>();
            for (int port = 40000; port < 40016; port++) {
                int p = port;
                for (InetAddress to : List.of(PEER, PEER6)) {
                    Set<Integer> q = lab.queuesMoved(() -> {
                        try (DatagramSocket s = Netns.run(lab.ns.name(), () -> new DatagramSocket(
                                new InetSocketAddress(to == PEER ? null : addr("2001:2::1"), p)))) {
                            send(s, stamped(16, 99, 0), to);
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    });
                    assertProbeReached(hash.queueOfSourcePort(p), q, "source port " + p + " to " + to);
                    seen.add(hash.queueOfSourcePort(p));
                }
                // IPv4 with 8 bytes of options (IHL 7): the ports are 28 bytes in, and still found
                Set<Integer> q = lab.queuesMoved(() -> KernelNs.exec("ip", "netns", "exec", lab.ns.name(), "python3",
                        "-c", "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                                + "s.setsockopt(socket.IPPROTO_IP,socket.IP_OPTIONS,bytes([7,7,4,0,0,0,0,1]))\n"
                                + "s.bind(('',%d))\ns.sendto(b'x'*16,('198.18.0.2',9))".formatted(p)));
                assertProbeReached(hash.queueOfSourcePort(p), q, "source port " + p + " with IP options");
            }
            assertEquals(8, seen.size(), "16 consecutive ports reach all 8 queues: " + seen);
            Set<Integer> icmp = lab.queuesMoved(() -> KernelNs.exec("ip", "netns", "exec", lab.ns.name(), "ping", "-n",
                    "-q", "-c", "1", "-W", "0.05", "198.18.0.2"));
            assertEquals(Set.of(0), icmp, "ICMP goes to the first queue");
        }
    }

    /** The probe reached {@code want}, and no queue but it and the first (where background packets go). */
    private static void assertProbeReached(int want, Set<Integer> moved, String what) {
        Set<Integer> others = new HashSet<>(moved);
        others.remove(0);
        others.remove(want);
        assertTrue(moved.contains(want) && others.isEmpty(), what + ": queue " + want + " expected, moved " + moved);
    }

    @Test
    void sixtyFourSendersOverSixteenQueuesLoseNothing() throws Exception {
        int senders = 64;
        int each = 150; // more than a default send buffer holds (about 92 such datagrams): every sender blocks
        try (Lab lab = new Lab(false)) {
            lab.apply("--rate", "20mbit", "--flows", "16", "--senders", "64");
            List<DatagramSocket> socks = new ArrayList<>();
            for (int i = 0; i < senders; i++) {
                socks.add(lab.udp(null));
            }
            long deadline = System.nanoTime() + 30_000_000_000L;
            AtomicLong sent = new AtomicLong();
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < senders; i++) {
                threads.add(bulk(socks.get(i), i + 1, deadline, each, sent));
            }
            for (Thread t : threads) {
                t.join(40_000);
            }
            JsonNode shown = null;
            for (int i = 0; i < 200; i++) {
                shown = lab.show();
                if (shown.get("qdisc").get("stats").get("backlog_packets").asLong() == 0) {
                    break;
                }
                Thread.sleep(50);
            }
            Thread.sleep(200);
            for (DatagramSocket s : socks) {
                s.close();
            }
            assertEquals((long) senders * each, sent.get(), "every sender sent everything before the deadline");
            Map<Long, Integer> perFlow = new HashMap<>();
            for (Arrival a : lab.reader.arrivals()) {
                if (a.proto() == 17 && a.stamp0() >= 0 && (a.stamp0() >>> 32) >= 1 && (a.stamp0() >>> 32) <= senders) {
                    perFlow.merge(a.stamp0() >>> 32, 1, Integer::sum);
                }
            }
            for (long f = 1; f <= senders; f++) {
                assertEquals(each, perFlow.getOrDefault(f, 0), "flow " + f + " lost datagrams");
            }
            assertEquals(0, shown.get("qdisc").get("stats").get("drops").asLong(), "qdisc drops: " + shown);
            assertEquals(0, shown.get("tx_dropped").asLong(), "tun drops: " + shown);
            int used = 0;
            for (JsonNode q : shown.get("qdisc").get("flows").get("queues")) {
                used += q.get("stats").get("sent_packets").asLong() > 0 ? 1 : 0;
            }
            assertTrue(used <= 16 && used >= 8, "64 flows spread over the queues: " + used + " used");
        }
    }

    /** ping's echo data starts with its send time (struct timeval, host order); the wait in microseconds. */
    private static double pingWaitMs(Arrival a) {
        long sec = Long.reverseBytes(a.stamp0());
        long usec = Long.reverseBytes(a.stamp1());
        return (a.epochMicros() - (sec * 1_000_000 + usec)) / 1000.0;
    }

    /** One connection attempt from {@code port}; returns the time just before its SYN was sent. */
    private static long tcpAttempt(Lab lab, int port, InetAddress to) throws Exception {
        return Netns.run(lab.ns.name(), () -> {
            try (Socket s = new Socket()) {
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress(port));
                long start = System.nanoTime();
                try {
                    s.connect(new InetSocketAddress(to, 80), 100);
                } catch (java.net.SocketTimeoutException expected) {
                    // nobody answers: the SYN is all this attempt sends
                }
                return start;
            }
        });
    }

    @Test
    void ipv6PingAndTcpAreIsolatedToo() throws Exception {
        try (Lab lab = new Lab(true)) {
            lab.apply("--rate", "1mbit", "--flows", "16");
            Thread.sleep(300); // let IPv6's own start-up packets (router solicitation, MLD) pass
            Set<Integer> taken = new HashSet<>();
            // ICMP echo: one identifier whose queue is its own
            int pingId = -1;
            for (int id = 4000; id < 4040 && pingId < 0; id++) {
                int fid = id;
                // nobody answers, so ping exits 1: only its one echo request matters
                int q = lab.queueOf(() -> KernelNs.exec("ip", "netns", "exec", lab.ns.name(), "ping", "-n", "-q", "-c",
                        "1", "-W", "0.05", "-e", Integer.toString(fid), "198.18.0.2"));
                if (taken.add(q)) {
                    pingId = id;
                }
            }
            assertTrue(pingId >= 0);
            int tcpPort = -1;
            for (int port = 40000; port < 40040 && tcpPort < 0; port++) {
                int p = port;
                int q = lab.queueOf(() -> {
                    try {
                        tcpAttempt(lab, p, PEER);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                if (taken.add(q)) {
                    tcpPort = port;
                }
            }
            assertTrue(tcpPort >= 0);
            DatagramSocket v6 = distinctFlows(lab, addr("2001:2::1"), PEER6, 1, taken).get(0);
            List<DatagramSocket> bulkSocks = distinctFlows(lab, null, PEER, 3, taken);

            int seconds = 5;
            long t0 = System.nanoTime();
            long deadline = t0 + seconds * 1_000_000_000L;
            AtomicLong bulkSent = new AtomicLong();
            List<Thread> threads = new ArrayList<>();
            for (int f = 1; f <= 3; f++) {
                threads.add(bulk(bulkSocks.get(f - 1), f, deadline, 100_000, bulkSent));
            }
            Thread.sleep(500); // the bulk queues fill
            long pingStart = System.nanoTime();
            Process ping = new ProcessBuilder("ip", "netns", "exec", lab.ns.name(), "ping", "-n", "-q", "-i", "0.1",
                    "-c", "40", "-W", "0.01", "-e", Integer.toString(pingId), "198.18.0.2")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            List<Long> tcpStarts = new ArrayList<>();
            int v6Sent = 0;
            try {
                for (int i = 0; i < 40 && System.nanoTime() < deadline - 500_000_000L; i++) {
                    send(v6, stamped(SPARSE_PAYLOAD, 6, i), PEER6);
                    v6Sent++;
                    if (i % 2 == 0) {
                        tcpStarts.add(tcpAttempt(lab, tcpPort, PEER));
                    }
                    Thread.sleep(100);
                }
            } finally {
                ping.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
                ping.destroyForcibly();
            }
            for (Thread t : threads) {
                t.join(60_000);
            }
            for (DatagramSocket s : bulkSocks) {
                s.close();
            }
            v6.close();
            List<Arrival> all = lab.reader.arrivals();
            List<Double> v6Waits = new ArrayList<>();
            List<Double> pingWaits = new ArrayList<>();
            List<Long> synArrivals = new ArrayList<>();
            for (Arrival a : all) {
                if (a.version() == 6 && flow(6).test(a)) {
                    v6Waits.add((a.nanos() - a.stamp1()) / 1e6);
                } else if (a.proto() == 1 && a.sport() == pingId && a.dport() == 8 && a.nanos() > pingStart) {
                    pingWaits.add(pingWaitMs(a));
                } else if (a.proto() == 6 && a.sport() == tcpPort && (a.tcpFlags() & 0x02) != 0
                        && a.nanos() > tcpStarts.get(0)) {
                    synArrivals.add(a.nanos());
                }
            }
            List<Double> tcpWaits = new ArrayList<>();
            for (int i = 0; i < Math.min(synArrivals.size(), tcpStarts.size()); i++) {
                tcpWaits.add((synArrivals.get(i) - tcpStarts.get(i)) / 1e6);
            }
            assertEquals(v6Sent, v6Waits.size(), "IPv6 datagrams delivered");
            assertEquals(tcpStarts.size(), synArrivals.size(), "one SYN per attempt");
            assertTrue(pingWaits.size() >= 30, "echo requests delivered: " + pingWaits.size());
            System.out.printf("isolated at 1mbit behind 3 bulk flows: IPv6 UDP p95 %.1f ms, ping p95 %.1f ms, "
                    + "TCP SYN p95 %.1f ms%n", percentile(v6Waits, 95), percentile(pingWaits, 95),
                    percentile(tcpWaits, 95));
            assertTrue(percentile(v6Waits, 95) <= 50, "IPv6 " + v6Waits);
            assertTrue(percentile(pingWaits, 95) <= 50, "ping " + pingWaits);
            assertTrue(percentile(tcpWaits, 95) <= 50, "TCP " + tcpWaits);
        }
    }
}
