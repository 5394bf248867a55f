package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.netlink.Netns;
import io.tunshape.sys.UnixDatagram;
import io.tunshape.testing.KernelNs;
import io.tunshape.testing.PumpProcess;
import io.tunshape.tun.TunDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The daemon against the real kernel, as a child process with a configuration of the test's own. */
class DaemonKernelTest {
    /** An adaptive htb profile for the daemon tests (NamespaceDiscoveryKernelTest uses it too). */
    static final String PROFILE = """
            name: adaptive-test
            description: adaptive test link
            source: test
            link:
              rate: 1mbit
            shaping:
              mode: latency
              latency: 200ms
            adaptive:
              min_rate: 250kbit
              max_rate: 4mbit
              headroom: 10%
            """;

    /** A namespace of the test's own with a daemon configuration for it (NetnsEventsKernelTest uses it too). */
    static final class Setup implements AutoCloseable {
        final KernelNs ns = KernelNs.create();
        final Path dir;
        PumpProcess daemon;

        Setup(Path dir) throws Exception {
            this.dir = dir;
            Files.writeString(dir.resolve("adaptive-test.yaml"), PROFILE);
            Files.writeString(dir.resolve("tunshape.yaml"), config(ns.name()));
        }

        String config(String netns) {
            return "report_socket: " + dir.resolve("report.sock") + "\n"
                    + "control_socket: " + dir.resolve("control.sock") + "\n"
                    + "interfaces:\n"
                    + "  - match: \"tap*\"\n    netns: \"" + netns + "\"\n    profile: " + dir.resolve("adaptive-test.yaml")
                    + "\n    adaptive: true\n"
                    + "  - match: \"t[0-9]\"\n    netns: \"" + netns + "\"\n    profile: ax25-9600-g3ruh\n"
                    + "  - match: \"t[0-9]x*\"\n    netns: \"" + netns + "\"\n    profile: wireguard-10mbit\n"
                    + "control:\n  stale_after: 2s\n  min_interval: 300ms\n";
        }

        void start() throws Exception {
            start(java.util.Map.of());
        }

        /** Starts the daemon with {@code env} added to its environment. */
        void start(java.util.Map<String, String> env) throws Exception {
            daemon = new PumpProcess(env, "daemon", "--config", dir.resolve("tunshape.yaml").toString());
            assertTrue(daemon.await("running with", io.tunshape.testing.Bounds.millis(15_000)), daemon.lines().toString());
        }

        /** A tun device held open (and not read), addressed 198.18.0.1 peer .2 and up: what is sent to .2 queues. */
        TunDevice heldTun(String name) throws Exception {
            ns.tun(name);
            TunDevice dev = Netns.run(ns.name(), () -> TunDevice.open(name, false));
            ns.ip("addr", "add", "198.18.0.1", "peer", "198.18.0.2", "dev", name);
            ns.ip("link", "set", name, "up");
            return dev;
        }

        /** Sends {@code count} UDP datagrams of {@code size} bytes to 198.18.0.2 from the namespace. */
        void send(int count, int size) throws Exception {
            try (DatagramSocket tx = Netns.run(ns.name(), DatagramSocket::new)) {
                for (int i = 0; i < count; i++) {
                    tx.send(new DatagramPacket(new byte[size], size, InetAddress.getByName("198.18.0.2"), 9));
                }
            }
        }

        String qdiscs(String dev) {
            return ns.tc("-s", "qdisc", "show", "dev", dev) + ns.tc("class", "show", "dev", dev);
        }

        void report(String json) {
            try (UnixDatagram d = new UnixDatagram()) {
                byte[] b = json.getBytes(StandardCharsets.UTF_8);
                d.send(ByteBuffer.allocateDirect(b.length).put(b).flip(),
                        UnixDatagram.address(dir.resolve("report.sock").toString()));
            }
        }

        JsonNode status() throws Exception {
            try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                c.connect(UnixDomainSocketAddress.of(dir.resolve("control.sock")));
                ByteBuffer buf = ByteBuffer.allocate(65536);
                while (c.read(buf) >= 0) {
                    // to the end
                }
                buf.flip();
                return readJson(StandardCharsets.UTF_8.decode(buf).toString());
            }
        }

        @Override
        public void close() {
            if (daemon != null) {
                daemon.close();
            }
            ns.close();
        }
    }

    static boolean within(long millis, BooleanSupplier cond) throws InterruptedException {
        long end = System.currentTimeMillis() + millis;
        while (System.currentTimeMillis() < end) {
            if (cond.getAsBoolean()) {
                return true;
            }
            Thread.sleep(20);
        }
        return cond.getAsBoolean();
    }

    /**
     * The stat fields (proc(5), numbered from 1) of the process's thread named {@code name}: field
     * {@code n} is at index n - 1; the command name, which may hold spaces, is left empty.
     */
    static String[] threadStat(long pid, String name) throws java.io.IOException {
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                if (Files.readString(t.resolve("comm")).strip().equals(name)) {
                    String stat = Files.readString(t.resolve("stat"));
                    String rest = stat.substring(stat.lastIndexOf(')') + 2);
                    return (stat.substring(0, stat.indexOf(' ')) + " () " + rest).split(" ");
                }
            }
        }
        throw new AssertionError("no thread " + name + " in " + pid);
    }

    /** The scheduling policy (field 41) of the process's thread named {@code name}. */
    static int policyOf(long pid, String name) throws java.io.IOException {
        return Integer.parseInt(threadStat(pid, name)[41 - 1]);
    }

    /** utime + stime (fields 14 and 15), in clock ticks, of the process's thread named {@code name}. */
    static long cpuTicksOf(long pid, String name) throws java.io.IOException {
        String[] f = threadStat(pid, name);
        return Long.parseLong(f[14 - 1]) + Long.parseLong(f[15 - 1]);
    }

    @Test
    void aSenderFloodingTheSocketGetsTheReportThreadNoMoreThanItsDeadlineBudget(@TempDir Path dir) throws Exception {
        try (Setup s = new Setup(dir)) {
            Files.writeString(dir.resolve("tunshape.yaml"), s.config(s.ns.name()) + "report_scheduling: {policy: deadline}\n");
            s.ns.tap("tap0");
            s.start();
            // SCHED_DEADLINE is policy 6
            assertEquals(6, policyOf(s.daemon.pid(), "reports"), String.join("\n", s.daemon.lines()));
            assertTrue(String.join("\n", s.daemon.lines()).contains(
                    "report thread: SCHED_DEADLINE, 2000 us of CPU every 10000 us"), String.join("\n", s.daemon.lines()));
            byte[] b = ("{\"v\":1,\"dev\":\"tap0\",\"netns\":\"" + s.ns.name() + "\",\"interval_ms\":100,"
                    + "\"tx_bytes\":25000,\"busy_ms\":100,\"capacity_bps\":2000000}").getBytes(StandardCharsets.UTF_8);
            long before = cpuTicksOf(s.daemon.pid(), "reports");
            long t0 = System.nanoTime();
            long sent = 0;
            try (UnixDatagram d = new UnixDatagram()) {
                ByteBuffer msg = ByteBuffer.allocateDirect(b.length).put(b).flip();
                ByteBuffer to = UnixDatagram.address(dir.resolve("report.sock").toString());
                // as fast as the socket takes them, for 2 s (bounded in count too)
                while (System.nanoTime() - t0 < 2_000_000_000L && sent < 5_000_000) {
                    try {
                        d.send(msg.duplicate(), to.duplicate());
                        sent++;
                    } catch (io.tunshape.sys.NativeException e) {
                        assertEquals(io.tunshape.sys.Errno.EAGAIN, e.errno(), e.getMessage()); // the socket is full
                    }
                }
            }
            long ticks = cpuTicksOf(s.daemon.pid(), "reports") - before;
            long wallTicks = (System.nanoTime() - t0) / 10_000_000;
            JsonNode st = s.status();
            long accepted = st.get("reports").get("accepted").asLong();
            // SCHED_DEADLINE, 2 ms every 10 ms: a fifth of a CPU at most (a tick's rounding either side)
            assertTrue(ticks <= wallTicks / 5 + 2, ticks + " ticks of CPU in " + wallTicks + "; sent " + sent
                    + ", accepted " + accepted);
            assertTrue(accepted > 1000 && accepted <= sent, "sent " + sent + ", accepted " + accepted);
            // and it kept the device at the reported rate
            assertTrue(within(1000, () -> htbRate(s.qdiscs("tap0")) == 1_800_000), s.qdiscs("tap0"));
            assertEquals(0, s.daemon.stop());
        }
    }

    private static long htbRate(String classes) {
        Matcher m = Pattern.compile("class htb 7474:1 root .*?rate (\\S+)").matcher(classes);
        return m.find() ? io.tunshape.tc.Units.parseRate(m.group(1)).bitsPerSecond() : -1;
    }

    @Test
    void devicesCreatedOrRecreatedAfterStartAreShapedWithinASecond(@TempDir Path dir) throws Exception {
        try (Setup s = new Setup(dir)) {
            s.start();
            s.ns.tun("t1");
            long t0 = System.nanoTime();
            assertTrue(within(1000, () -> s.qdiscs("t1").contains("qdisc tbf 7473:")), s.daemon.lines().toString());
            System.out.printf("daemon: t1 shaped %.0f ms after it was created%n", (System.nanoTime() - t0) / 1e6);
            s.ns.ip("link", "del", "t1");
            s.ns.tun("t1");
            assertTrue(within(1000, () -> s.qdiscs("t1").contains("qdisc tbf 7473:")), "re-created: shaped again");
            s.ns.tc("qdisc", "del", "dev", "t1", "root");
            assertTrue(within(1000, () -> s.qdiscs("t1").contains("qdisc tbf 7473:")), "removed by someone: put back");
            assertEquals(0, s.daemon.stop(), s.daemon.lines().toString());
            assertFalse(s.qdiscs("t1").contains("7473:"), "SIGTERM puts back what the daemon changed");
        }
    }

    @Test
    void aBurstOfDevicesIsShapedEvenWhenTheEventsOverrun(@TempDir Path dir) throws Exception {
        try (Setup s = new Setup(dir)) {
            s.start();
            // 3000 devices at once: about 4.5 MB of link events, more than the event socket holds
            StringBuilder batch = new StringBuilder();
            for (int i = 0; i < 3000; i++) {
                batch.append("tuntap add dev t").append(i % 10).append("x").append(i / 10).append(" mode tun\n");
            }
            Path file = dir.resolve("batch");
            Files.writeString(file, batch.toString());
            s.ns.ip("-batch", file.toString());
            long t0 = System.nanoTime();
            boolean all = within(20_000, () -> s.ns.tc("qdisc", "show").lines()
                    .filter(l -> l.contains("qdisc tbf 7473:")).count() >= 3000);
            boolean overran = s.daemon.lines().stream().anyMatch(l -> l.contains("ENOBUFS"));
            System.out.printf("daemon: 3000 devices created at once, all shaped in %.1f s; events overran: %s%n",
                    (System.nanoTime() - t0) / 1e9, overran);
            assertTrue(all, s.daemon.lines().toString());
            assertEquals(0, s.daemon.stop(), s.daemon.lines().toString());
            assertEquals(0, s.ns.tc("qdisc", "show").lines().filter(l -> l.contains("7473:")).count(),
                    "all put back on SIGTERM");
        }
    }

    @Test
    void theWarmUpRunsTheReportPathInAPrivateNamespaceAndLeavesNoTrace(@TempDir Path dir) throws Exception {
        try (Setup s = new Setup(dir)) {
            s.ns.tap("tap0");
            Path locks = dir.resolve("locks");
            s.start(java.util.Map.of("TUNSHAPE_LOCK_DIR", locks.toString()));
            String log = String.join("\n", s.daemon.lines());
            Matcher warm = Pattern.compile("report path warmed up: 2000 reports, (\\d+) rate changes in a private namespace")
                    .matcher(log);
            // every report but perhaps the first changes the rate
            assertTrue(warm.find() && Long.parseLong(warm.group(1)) >= 1999, log);
            // by default the report thread is scheduled like any other (SCHED_OTHER, policy 0)
            assertEquals(0, policyOf(s.daemon.pid(), "reports"), log);
            // nothing of it outside: no device, no named namespace, the real device at its profile's rate
            String links = KernelNs.exec("ip", "-o", "link", "show").output() + s.ns.ip("-o", "link", "show");
            assertTrue(!links.contains("warm0"), links);
            String named = KernelNs.exec("ip", "netns", "list").output();
            assertTrue(!named.contains("warm"), named);
            // its changes took its namespace's lock, whose file went with the namespace: the served one's is left
            try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(locks)) {
                List<String> left = files.map(f -> f.getFileName().toString()).toList();
                Path served = Path.of("/run/netns", s.ns.name());
                String key = java.nio.file.Files.getAttribute(served, "unix:dev") + "-"
                        + java.nio.file.Files.getAttribute(served, "unix:ino");
                assertEquals(List.of("net-" + key + ".lock"), left);
            }
            assertTrue(within(1000, () -> htbRate(s.qdiscs("tap0")) == 1_000_000), s.qdiscs("tap0"));
            // status counts from ready: no reports, no changes yet
            JsonNode st = s.status();
            assertEquals(0, st.get("reports").get("accepted").asLong(), st.toString());
            // each device's tun_flags, as sysfs in its namespace shows them, and whether flow control is on
            String flags = KernelNs.run("ip", "netns", "exec", s.ns.name(), "cat", "/sys/class/net/tap0/tun_flags").strip();
            JsonNode tap0 = st.get("interfaces").get(0);
            assertEquals("tap0", tap0.get("dev").asText(), st.toString());
            assertEquals(flags, tap0.get("tun_flags").asText(), st.toString());
            assertEquals(false, tap0.get("kernel_flow_control").asBoolean(true), "ip tuntap never asks for it: " + st);
            String text = KernelNs.run("bin/tunshape", "status", "--socket", dir.resolve("control.sock").toString());
            assertTrue(text.lines().anyMatch(l -> l.startsWith("tap0 ") && l.endsWith("  kernel flow control off")), text);
            assertEquals(0, st.get("changes").get("count").asLong(), st.toString());
            s.report("{\"v\":1,\"dev\":\"tap0\",\"netns\":\"" + s.ns.name() + "\",\"interval_ms\":300,"
                    + "\"tx_bytes\":75000,\"busy_ms\":300,\"capacity_bps\":2000000}");
            assertTrue(within(1500, () -> htbRate(s.qdiscs("tap0")) == 1_800_000), s.qdiscs("tap0"));
            JsonNode after = s.status();
            assertEquals(1, after.get("reports").get("accepted").asLong(), after.toString());
            assertEquals(1, after.get("changes").get("count").asLong(), after.toString());
            assertEquals(0, s.daemon.stop());
        }
    }

    @Test
    void theWarmUpWorksForAProfileWhoseRateIsItsMaxRate(@TempDir Path dir) throws Exception {
        // iridium-certus-100: rate 88kbit = max_rate; a first report near max_rate changes nothing
        try (Setup s = new Setup(dir)) {
            Files.writeString(dir.resolve("tunshape.yaml"), s.config(s.ns.name())
                    .replace("profile: " + dir.resolve("adaptive-test.yaml"), "profile: iridium-certus-100"));
            s.start();
            String log = String.join("\n", s.daemon.lines());
            assertTrue(log.contains("report path warmed up: 2000 reports,"), log);
            assertEquals(0, s.daemon.stop());
        }
    }

    @Test
    void reportsDriveTheRateAndStaleReportsFallBack(@TempDir Path dir) throws Exception {
        try (Setup s = new Setup(dir)) {
            s.ns.tap("tap0");
            s.start();
            assertTrue(within(1000, () -> htbRate(s.qdiscs("tap0")) == 1_000_000), s.qdiscs("tap0"));
            for (int i = 0; i < 3; i++) {
                s.report("{\"v\":1,\"dev\":\"tap0\",\"netns\":\"" + s.ns.name() + "\",\"interval_ms\":300,"
                        + "\"tx_bytes\":75000,\"busy_ms\":300,\"capacity_bps\":2000000}");
                Thread.sleep(100);
            }
            assertTrue(within(1500, () -> htbRate(s.qdiscs("tap0")) == 1_800_000),
                    "capacity 2 Mbit/s less 10 % headroom: " + s.qdiscs("tap0"));
            Thread.sleep(300);
            JsonNode st = s.status();
            JsonNode tap = null;
            for (JsonNode i : st.get("interfaces")) {
                if (i.get("dev").asText().equals("tap0")) {
                    tap = i;
                }
            }
            assertTrue(tap != null, st.toString());
            assertEquals(1_800_000, tap.get("rate_bps").asLong(), st.toString());
            assertEquals(2_000_000, tap.get("capacity_bps").asLong(), st.toString());
            assertEquals(s.ns.name(), tap.get("netns").asText());
            assertTrue(tap.get("changes").asLong() >= 1, st.toString());
            assertTrue(st.get("reports").get("accepted").asLong() >= 3, st.toString());
            // the change the reports made, timed from the datagram's arrival (the kernel's stamp) to the ack
            JsonNode ch = st.get("changes");
            assertTrue(ch.get("count").asLong() >= 1, st.toString());
            assertTrue(ch.get("p50_us").asLong() > 0 && ch.get("max_us").asLong() < 1_000_000, st.toString());
            // the slowest of them, slowest first, each with its report's arrival (the kernel's stamp, UTC)
            JsonNode slowest = ch.get("slowest");
            assertTrue(slowest.size() >= 1 && slowest.size() <= ch.get("count").asLong(), st.toString());
            assertEquals(ch.get("max_us").asLong(), slowest.get(0).get("us").asLong(), st.toString());
            java.time.Instant arrived = java.time.Instant.parse(slowest.get(0).get("arrived").asText());
            assertTrue(Math.abs(java.time.Duration.between(arrived, java.time.Instant.now()).toSeconds()) < 120, st.toString());
            // garbage changes nothing: malformed, wrong version, oversized, unknown device
            long rejected = st.get("reports").get("rejected").asLong();
            s.report("{not json");
            s.report("{\"v\":2,\"dev\":\"tap0\",\"interval_ms\":1000,\"tx_bytes\":1,\"busy_ms\":1}");
            s.report("{\"v\":1,\"dev\":\"tap0\",\"interval_ms\":1000,\"tx_bytes\":1,\"busy_ms\":1,\"x\":\""
                    + "y".repeat(5000) + "\"}");
            s.report("{\"v\":1,\"dev\":\"nosuch\",\"interval_ms\":1000,\"tx_bytes\":1,\"busy_ms\":1000,"
                    + "\"capacity_bps\":300000}");
            Thread.sleep(300);
            JsonNode after = s.status();
            assertEquals(rejected + 3, after.get("reports").get("rejected").asLong(), after.toString());
            assertTrue(after.get("reports").get("unknown").asLong() >= 1, after.toString());
            // no reports for stale_after (2 s): back to the profile's rate
            assertTrue(within(4000, () -> htbRate(s.qdiscs("tap0")) == 1_000_000), s.qdiscs("tap0"));
            assertEquals(0, s.daemon.stop());
        }
    }

    private static final Pattern ROOT_STATS = Pattern.compile(
            "qdisc htb 7474: root .*?\\n Sent \\d+ bytes (\\d+) pkt \\(dropped (\\d+),.*?\\n backlog \\S+ (\\d+)p");

    /** The htb root's drops and queued packets. */
    /** The root's drops, packets queued and packets sent. */
    private static long[] dropsAndQueued(String qdiscs) {
        Matcher m = ROOT_STATS.matcher(qdiscs);
        assertTrue(m.find(), qdiscs);
        return new long[] {Long.parseLong(m.group(2)), Long.parseLong(m.group(3)), Long.parseLong(m.group(1))};
    }

    @Test
    void aFallDeeperThanTheQueueDrainsInTwiceTheLatencyEmptiesItAndAShallowOneKeepsIt(@TempDir Path dir)
            throws Exception {
        try (Setup s = new Setup(dir)) {
            // a slow link with a long queue: 2 s at 100 kbit/s holds 25 kB, 12 packets leave a second
            Files.writeString(dir.resolve("slow.yaml"), """
                    name: slow
                    description: slow adaptive test link
                    source: test
                    link: {rate: 100kbit}
                    shaping: {mode: latency, latency: 2s}
                    adaptive: {min_rate: 20kbit, max_rate: 400kbit, headroom: 10%}
                    """);
            Files.writeString(dir.resolve("tunshape.yaml"), "report_socket: " + dir.resolve("report.sock")
                    + "\ncontrol_socket: " + dir.resolve("control.sock") + "\ninterfaces:\n"
                    + "  - {match: t4, netns: \"" + s.ns.name() + "\", profile: " + dir.resolve("slow.yaml")
                    + ", adaptive: true}\ncontrol: {smoothing: 100%, min_interval: 0s, stale_after: 30s}\n");
            try (TunDevice dev = s.heldTun("t4")) {
                s.start();
                assertTrue(within(1000, () -> htbRate(s.qdiscs("t4")) == 100_000), s.qdiscs("t4"));
                s.send(20, 1000);
                long[] queued = dropsAndQueued(s.qdiscs("t4"));
                assertEquals(0, queued[0], s.qdiscs("t4"));
                assertTrue(queued[1] >= 15, "the queue holds what the rate has not let out: " + s.qdiscs("t4"));
                String ns = s.ns.name();
                // 70 kbit/s less 10 %: 63 kbit/s, more than half of 100: what is queued leaves within 4 s
                s.report("{\"v\":1,\"dev\":\"t4\",\"netns\":\"" + ns + "\",\"interval_ms\":200,\"tx_bytes\":1750,"
                        + "\"busy_ms\":200,\"capacity_bps\":70000}");
                assertTrue(within(1000, () -> htbRate(s.qdiscs("t4")) == 63_000), s.qdiscs("t4"));
                long[] shallow = dropsAndQueued(s.qdiscs("t4"));
                assertEquals(0, shallow[0], "a shallow fall keeps the queue: " + s.qdiscs("t4"));
                assertTrue(shallow[1] >= 10, s.qdiscs("t4"));
                // an outage: min_rate, a fifth of 100 kbit/s within the last 4 s: the queue is emptied
                s.report("{\"v\":1,\"dev\":\"t4\",\"netns\":\"" + ns + "\",\"interval_ms\":200,\"tx_bytes\":0,"
                        + "\"busy_ms\":200,\"capacity_bps\":0}");
                assertTrue(within(1000, () -> htbRate(s.qdiscs("t4")) == 20_000), s.qdiscs("t4"));
                long[] deep = dropsAndQueued(s.qdiscs("t4"));
                assertEquals(0, deep[1], "nothing left queued: " + s.qdiscs("t4"));
                // every datagram sent either left or was dropped (how many left before the flush depends
                // on how soon this thread ran again: on a loaded machine several more than usual)
                assertTrue(deep[0] > 0 && deep[0] + deep[2] >= 20,
                        "what was queued is counted as dropped: " + s.qdiscs("t4"));
                assertTrue(s.qdiscs("t4").contains("qdisc bfifo 7501: parent 7474:1 limit 6500b"),
                        "the leaf is back, at 2 s of 20 kbit/s (5000 bytes) and a burst: " + s.qdiscs("t4"));
                assertEquals(0, s.daemon.stop(), s.daemon.lines().toString());
            }
        }
    }

    @Test
    void unauthorisedSendersCannotReport(@TempDir Path dir) throws Exception {
        try (Setup s = new Setup(dir)) {
            s.ns.tap("tap0");
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            s.start();
            // as nobody: the socket is mode 0660, owner root
            Path script = dir.resolve("report.py");
            Files.copy(Path.of("examples/report.py"), script);
            Files.setPosixFilePermissions(script, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            KernelNs.Exec e = KernelNs.exec("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "/usr/bin/python3", script.toString(), "--socket",
                    dir.resolve("report.sock").toString(), "--dev", "tap0", "--netns", s.ns.name(), "--capacity",
                    "3000000");
            assertTrue(e.output().contains("0 of 1 reports delivered"), e.output());
            Thread.sleep(300);
            assertEquals(0, s.status().get("reports").get("accepted").asLong());
            assertEquals(1_000_000, htbRate(s.qdiscs("tap0")));
            // someone loosens the socket's mode: the kernel now delivers, the credentials still refuse
            Files.setPosixFilePermissions(dir.resolve("report.sock"),
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
            KernelNs.Exec again = KernelNs.exec("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "/usr/bin/python3", script.toString(), "--socket", dir.resolve("report.sock").toString(), "--dev",
                    "tap0", "--netns", s.ns.name(), "--capacity", "3000000");
            assertTrue(again.output().contains("1 of 1 reports delivered"), again.output());
            Thread.sleep(300);
            JsonNode st = s.status();
            assertEquals(1, st.get("reports").get("unauthorised").asLong(), st.toString());
            assertEquals(0, st.get("reports").get("accepted").asLong(), st.toString());
            assertEquals(1_000_000, htbRate(s.qdiscs("tap0")), "an unauthorised report changes nothing");
            assertEquals(0, s.daemon.stop());
        }
    }

    @Test
    void aBadReloadKeepsTheRunningConfiguration(@TempDir Path dir) throws Exception {
        try (Setup s = new Setup(dir)) {
            s.start();
            Files.writeString(dir.resolve("tunshape.yaml"), "interfaces:\n  - match: \"t*\"\n    profle: x\n");
            KernelNs.run("kill", "-HUP", Long.toString(s.daemon.pid()));
            assertTrue(s.daemon.await("reload refused", 5000), s.daemon.lines().toString());
            assertTrue(s.daemon.lines().stream().anyMatch(l -> l.contains("did you mean 'profile'")),
                    s.daemon.lines().toString());
            s.ns.tun("t2");
            assertTrue(within(1000, () -> s.qdiscs("t2").contains("qdisc tbf 7473:")), "the old rules still work");
            assertEquals(0, s.daemon.stop());
        }
    }

    @Test
    void afterSigkillARestartedDaemonAdoptsTheQdiscsWithoutResettingThem(@TempDir Path dir) throws Exception {
        try (Setup s = new Setup(dir)) {
            try (TunDevice dev = s.heldTun("t3")) {
                s.start();
                assertTrue(within(1000, () -> s.qdiscs("t3").contains("qdisc tbf 7473:")));
                s.send(5, 100);
                KernelNs.run("kill", "-KILL", Long.toString(s.daemon.pid()));
                s.daemon.waitFor(5000);
                String before = s.qdiscs("t3");
                assertTrue(before.contains("Sent") && !before.contains("Sent 0 bytes"), before);
                s.start();
                Thread.sleep(700);
                String after = s.qdiscs("t3");
                assertTrue(after.contains("qdisc tbf 7473:"), after);
                long sentBefore = Long.parseLong(before.replaceAll("(?s).*Sent (\\d+) bytes.*", "$1"));
                long sentAfter = Long.parseLong(after.replaceAll("(?s).*Sent (\\d+) bytes.*", "$1"));
                assertTrue(sentAfter >= sentBefore, "adopted, not replaced (counters kept): " + before + after);
                assertTrue(s.daemon.lines().stream().noneMatch(l -> l.contains("t3: shaped")),
                        "nothing sent for t3: " + s.daemon.lines());
                assertEquals(0, s.daemon.stop());
            }
        }
    }
}
