package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.testing.KernelNs;
import io.tunshape.testing.PumpProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static io.tunshape.kernel.DaemonKernelTest.within;
import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The daemon and namespaces without a name, as network emulators make them (CORE's vnoded, Mininet's
 * mnexec: a process that unshares its network namespace and lives as long as the node). Every device
 * name carries a tag unique to this run, so that rules selecting every namespace on the host touch
 * nothing of anyone else's.
 */
class NamespaceDiscoveryKernelTest {
    /** A tag unique to this run: device names are "z" + tag + a letter, hostnames and commands carry it too. */
    private final String tag = Long.toString(ProcessHandle.current().pid() % 1000) + ThreadLocalRandom.current()
            .nextInt(100, 1000);

    /** A process in a network (and UTS) namespace of its own, with no name, as an emulator's node. */
    static final class Node implements AutoCloseable {
        final Process p;
        final long pid;

        /** Runs {@code setup} in the new namespace (bash), then becomes a long sleep whose argv[0] is {@code argv0}. */
        Node(String hostname, String argv0, String setup) throws Exception {
            KernelNs.requireRoot();
            p = new ProcessBuilder("unshare", "--net", "--uts", "bash", "-c", "hostname " + hostname
                    + "; ip link set lo up; " + setup + "; exec -a " + argv0 + " sleep 600")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            pid = p.pid();
            long end = System.currentTimeMillis() + 10_000;
            while (!Files.readString(Path.of("/proc/" + pid + "/cmdline")).startsWith(argv0)) {
                assertTrue(p.isAlive() && System.currentTimeMillis() < end, "the node did not start");
                Thread.sleep(10);
            }
        }

        /** Runs a command inside the node's network namespace. */
        String in(String... cmd) {
            List<String> c = new ArrayList<>(List.of("nsenter", "-t", Long.toString(pid), "-n"));
            c.addAll(List.of(cmd));
            return KernelNs.run(c.toArray(new String[0]));
        }

        String qdiscs(String dev) {
            return in("tc", "qdisc", "show", "dev", dev) + in("tc", "class", "show", "dev", dev);
        }

        @Override
        public void close() throws InterruptedException {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** The daemon with the test's own sockets and rules. */
    private static final class Daemon implements AutoCloseable {
        final Path dir;
        PumpProcess p;

        Daemon(Path dir, String rules) throws Exception {
            this.dir = dir;
            Files.writeString(dir.resolve("adaptive-test.yaml"), DaemonKernelTest.PROFILE);
            Files.writeString(dir.resolve("tunshape.yaml"), "report_socket: " + dir.resolve("report.sock") + "\n"
                    + "control_socket: " + dir.resolve("control.sock") + "\n"
                    + "interfaces:\n" + rules.replace("ADAPTIVE", dir.resolve("adaptive-test.yaml").toString())
                    + "control:\n  stale_after: 5s\n  min_interval: 0s\n");
        }

        Daemon start() throws Exception {
            p = new PumpProcess("daemon", "--config", dir.resolve("tunshape.yaml").toString());
            assertTrue(p.await("running with", 30_000), p.lines().toString());
            return this;
        }

        JsonNode status() throws IOException {
            try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                c.connect(UnixDomainSocketAddress.of(dir.resolve("control.sock")));
                ByteBuffer buf = ByteBuffer.allocate(1 << 22);
                while (c.read(buf) >= 0) {
                    // to the end
                }
                buf.flip();
                return readJson(StandardCharsets.UTF_8.decode(buf).toString());
            }
        }

        /** The status entry of the namespace whose label contains {@code text}, or null. */
        JsonNode namespace(String text) throws IOException {
            for (JsonNode n : status().get("namespaces")) {
                if (n.get("label").asText().contains(text)) {
                    return n;
                }
            }
            return null;
        }

        String log() {
            return String.join("\n", p.lines());
        }

        @Override
        public void close() {
            if (p != null) {
                p.close();
            }
        }
    }

    private static boolean shaped(Node n, String dev) {
        return n.qdiscs(dev).contains("qdisc tbf 7473:") || n.qdiscs(dev).contains("qdisc htb 7474:");
    }

    @Test
    void everyNamespaceIsSelectedByStarAndTapsMadeBeforeAndAfterStartAreShaped(@TempDir Path dir) throws Exception {
        String before = "z" + tag + "b";
        String after = "z" + tag + "a";
        try (Node n = new Node("tsn" + tag, "tsnode" + tag, "ip tuntap add dev " + before + " mode tap");
             Daemon d = new Daemon(dir, "  - {match: \"z" + tag + "?\", netns: \"*\", profile: ax25-9600-g3ruh}\n")) {
            d.start();
            assertTrue(within(1000, () -> shaped(n, before)), d.log());
            n.in("ip", "tuntap", "add", "dev", after, "mode", "tap");
            long t0 = System.nanoTime();
            assertTrue(within(1000, () -> shaped(n, after)), d.log());
            System.out.printf("daemon: a tap in an unnamed namespace shaped %.0f ms after it was made%n",
                    (System.nanoTime() - t0) / 1e6);
            // status names it as a person would: hostname, command and pid
            JsonNode ns = d.namespace("tsn" + tag);
            assertTrue(ns != null && ns.get("label").asText().equals("hostname tsn" + tag + ", sleep pid " + n.pid),
                    d.status().toString());
            assertEquals("serving", ns.get("state").asText());
            assertEquals(2, ns.get("devices").asInt());
            assertEquals(0, d.p.stop(), d.log());
            assertFalse(shaped(n, before) || shaped(n, after), "SIGTERM puts both back");
        }
    }

    @Test
    void aNamespaceIsSelectedByHostnameReleasedWithItsLastProcessAndServedAgainWhenMadeAnew(@TempDir Path dir)
            throws Exception {
        String dev = "z" + tag + "h";
        String host = "tsh" + tag;
        try (Daemon d = new Daemon(dir, "  - {match: \"z*\", hostname: \"" + host + "\", profile: ax25-9600-g3ruh}\n")
                .start()) {
            long first;
            try (Node n = new Node(host, "tsnode" + tag, "ip tuntap add dev " + dev + " mode tap")) {
                first = n.pid;
                assertTrue(within(1000, () -> shaped(n, dev)), d.log());
            }
            assertTrue(within(1000, () -> d.log().contains("hostname " + host + ", sleep pid " + first
                    + ": released")), d.log());
            assertTrue(d.namespace(host) == null, "a released namespace leaves status");
            // a node of another hostname is not selected
            try (Node other = new Node("tso" + tag, "tsnode" + tag, "ip tuntap add dev " + dev + " mode tap");
                 Node again = new Node(host, "tsnode" + tag, "ip tuntap add dev " + dev + " mode tap")) {
                assertTrue(within(1000, () -> shaped(again, dev)), d.log());
                Thread.sleep(300);
                assertFalse(shaped(other, dev), "another hostname: not selected");
            }
        }
    }

    @Test
    void aNamespaceIsSelectedByTheCommandThatHoldsIt(@TempDir Path dir) throws Exception {
        String dev = "z" + tag + "c";
        try (Daemon d = new Daemon(dir, "  - {match: \"" + dev + "\", command: \"tscmd" + tag + "*\", "
                + "profile: ax25-9600-g3ruh}\n").start();
             Node n = new Node("tsc" + tag, "tscmd" + tag + "-h1", "true");
             Node other = new Node("tsc" + tag, "tsoth" + tag + "-h2", "true")) {
            n.in("ip", "tuntap", "add", "dev", dev, "mode", "tap");
            other.in("ip", "tuntap", "add", "dev", dev, "mode", "tap");
            assertTrue(within(1000, () -> shaped(n, dev)), d.log());
            Thread.sleep(300);
            assertFalse(shaped(other, dev), "another command: not selected");
        }
    }

    @Test
    void aReportFromInsideAnUnnamedNamespaceWithoutNetnsMovesThatDeviceAndNoOther(@TempDir Path dir) throws Exception {
        String dev = "z" + tag + "r";
        try (Node a = new Node("tsa" + tag, "tsnode" + tag, "ip tuntap add dev " + dev + " mode tap");
             Node b = new Node("tsb" + tag, "tsnode" + tag, "ip tuntap add dev " + dev + " mode tap");
             Daemon d = new Daemon(dir, "  - {match: \"" + dev + "\", netns: \"*\", profile: ADAPTIVE, adaptive: true}\n")
                     .start()) {
            assertTrue(within(1000, () -> a.qdiscs(dev).contains("rate 1Mbit") && b.qdiscs(dev).contains("rate 1Mbit")),
                    d.log());
            // as a driver inside node a would: no netns, a capacity written as a float
            Path script = Path.of("examples/report.py").toAbsolutePath();
            String out = a.in("python3", script.toString(), "--socket", dir.resolve("report.sock").toString(), "--dev",
                    dev, "--capacity", "3000000.0");
            assertTrue(out.contains("1 of 1 reports delivered"), out);
            // 3 Mbit/s less the 10 % headroom
            assertTrue(within(1000, () -> a.qdiscs(dev).contains("rate 2700Kbit")), a.qdiscs(dev) + d.log());
            assertTrue(b.qdiscs(dev).contains("rate 1Mbit"), "the other node's device keeps its rate: " + b.qdiscs(dev));
            JsonNode st = d.status();
            assertEquals(1, st.get("reports").get("accepted").asLong(), st.toString());
        }
    }

    @Test
    void aNamespaceThatCannotBeServedShowsInStatusWithItsReason(@TempDir Path dir) throws Exception {
        String dev = "z" + tag + "f";
        Files.writeString(dir.resolve("small-burst.yaml"), """
                name: small-burst
                description: a burst of one 1500-byte frame
                source: test
                link: {rate: 1mbit, mtu: 1500}
                shaping: {mode: latency, latency: 200ms, burst: 1600}
                """);
        try (Node n = new Node("tsf" + tag, "tsnode" + tag, "ip tuntap add dev " + dev + " mode tap; ip link set "
                + dev + " mtu 9000");
             Daemon d = new Daemon(dir, "  - {match: \"" + dev + "\", netns: \"*\", profile: "
                     + dir.resolve("small-burst.yaml") + "}\n").start()) {
            assertTrue(within(2000, () -> {
                try {
                    JsonNode ns = d.namespace("tsf" + tag);
                    return ns != null && "retrying".equals(ns.get("state").asText())
                            && ns.get("reason").asText().contains("below one full frame");
                } catch (IOException e) {
                    return false;
                }
            }), d.status().toString());
            String text = KernelNs.run("bin/tunshape", "status", "--socket", dir.resolve("control.sock").toString());
            assertTrue(text.contains("namespace hostname tsf" + tag + ", sleep pid " + n.pid + ": retrying"), text);
            // the device was fixed: the retry serves it
            n.in("ip", "link", "set", dev, "mtu", "1500");
            assertTrue(within(5000, () -> shaped(n, dev)), d.log());
        }
    }

    @Test
    void severalHundredNamespacesNamedAndUnnamedAreAllServed(@TempDir Path dir) throws Exception {
        KernelNs.requireRoot();
        int half = 150;
        String dev = "z" + tag + "s";
        String prefix = "tss" + tag + "x";
        Path pids = dir.resolve("pids");
        // one shell makes them all (a process start from Java costs ten times one from a shell on a
        // loaded machine): half named, half held by a process each, as emulators' nodes are
        Files.writeString(dir.resolve("make.sh"), "for i in $(seq 0 " + (half - 1) + "); do\n"
                + "  echo \"netns add " + prefix + "$i\"\n"
                + "done | ip -batch -\n"
                + "for i in $(seq 0 " + (half - 1) + "); do\n"
                + "  unshare --net --uts bash -c \"hostname tss" + tag + "u$i; exec -a tsnode" + tag + " sleep 600\" "
                + "</dev/null >/dev/null 2>&1 &\n"
                + "  echo $! >> " + pids + "\n"
                + "done\n");
        Files.writeString(dir.resolve("taps.sh"), "for i in $(seq 0 " + (half - 1) + "); do\n"
                + "  ip -n " + prefix + "$i tuntap add dev " + dev + " mode tap\n"
                + "done\n"
                + "while read p; do nsenter -t $p -n ip tuntap add dev " + dev + " mode tap; done < " + pids + "\n");
        try (Daemon d = new Daemon(dir, "  - {match: \"" + dev + "\", netns: \"*\", profile: ax25-9600-g3ruh}\n")) {
            long t0 = System.nanoTime();
            KernelNs.run("bash", dir.resolve("make.sh").toString());
            // every holder has unshared and exec'd (its command line shows it)
            for (String p : Files.readAllLines(pids)) {
                long end = System.currentTimeMillis() + 10_000;
                while (!Files.readString(Path.of("/proc/" + p + "/cmdline")).startsWith("tsnode")) {
                    assertTrue(System.currentTimeMillis() < end, "node " + p + " did not start");
                    Thread.sleep(10);
                }
            }
            d.start();
            long t1 = System.nanoTime();
            KernelNs.run("bash", dir.resolve("taps.sh").toString());
            boolean all = within(20_000, () -> {
                try {
                    int served = 0;
                    for (JsonNode n : d.status().get("namespaces")) {
                        served += n.get("devices").asInt() == 1 && n.get("label").asText().contains("tss" + tag) ? 1 : 0;
                    }
                    return served == 2 * half;
                } catch (IOException e) {
                    return false;
                }
            });
            System.out.printf("daemon: %d namespaces (half named, half unnamed) made in %.1f s; their taps made and "
                    + "shaped in %.1f s%n", 2 * half, (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9);
            assertTrue(all, d.log());
            // the kernel's word, for one of each kind
            String last = Files.readAllLines(pids).get(half - 1);
            assertTrue(KernelNs.run("tc", "-n", prefix + (half - 1), "qdisc", "show", "dev", dev).contains("tbf 7473:"));
            assertTrue(KernelNs.run("nsenter", "-t", last, "-n", "tc", "qdisc", "show", "dev", dev).contains("tbf 7473:"));
            long threads;
            try (var tasks = Files.list(Path.of("/proc/" + d.p.pid() + "/task"))) {
                threads = tasks.count();
            }
            System.out.printf("daemon: %d threads serving %d namespaces%n", threads, 2 * half);
            assertTrue(threads <= 24, threads + " threads");
            assertEquals(0, d.p.stop(), d.log());
            assertFalse(KernelNs.run("nsenter", "-t", last, "-n", "tc", "qdisc", "show", "dev", dev).contains("7473:"),
                    "put back on SIGTERM");
        } finally {
            if (Files.exists(pids)) {
                for (String p : Files.readAllLines(pids)) {
                    KernelNs.exec("kill", "-9", p);
                }
            }
            Files.writeString(dir.resolve("del"), "for i in $(seq 0 " + (half - 1) + "); do echo \"netns del "
                    + prefix + "$i\"; done | ip -force -batch -\n");
            KernelNs.exec("bash", dir.resolve("del").toString());
        }
    }
}
