package io.tunshape.kernel;

import io.tunshape.netlink.Netns;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.DaemonSockets;
import io.tunshape.testing.KernelNs;
import io.tunshape.testing.PumpProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * `tunshape top` in a real pseudo-terminal: a tmux server of the test's own (`tmux -L`, killed
 * afterwards) runs it against a namespace of the test's own, where a pump drains tun0 and a sender
 * fills its queue. The screen shows the devices, their rate, backlog and sparklines; keys sort; q
 * and Ctrl-C give the terminal back as it was (the same `stty -g`, the shell's screen again).
 */
class TopKernelTest {
    private static final AtomicInteger COUNTER = new AtomicInteger();

    @Test
    void showsTheDevicesSortsAndQuitsCleanly(@TempDir Path dir) throws Exception {
        try (KernelNs ns = KernelNs.create(); Tmux tmux = new Tmux(dir)) {
            ns.tun("tun0").tap("tap0");
            ns.ip("addr", "add", "198.18.7.1/24", "dev", "tun0");
            ns.ip("link", "set", "tun0", "up");
            CliRun apply = CliRun.of("--netns", ns.name(), "apply", "tun0", "--rate", "300kbit");
            assertEquals(0, apply.status(), apply.toString());
            try (PumpProcess pump = new PumpProcess("--netns", ns.name(), "pump", "--dev", "tun0", "--backend", "sink",
                    "--emulate-rate", "1mbit")) {
                awaitCarrier(ns);
                Thread sender = sender(ns, 3.0);
                tmux.start(ns.name(), "--interval", "300ms");
                String screen = tmux.await("a backlog in tun0's row", s -> row(s, "tun0") != null
                        && !row(s, "tun0").contains(" 0B "));
                String tun0 = row(screen, "tun0");
                assertTrue(screen.contains("tunshape top"), screen);
                assertTrue(tun0.contains(ns.name() + "/tun0") && tun0.contains("tbf") && tun0.contains("300k"),
                        "tun0's row shows its tbf at 300 kbit/s: " + screen);
                assertTrue(row(screen, "tap0") != null, "tap0 is listed: " + screen);
                screen = tmux.await("sparklines", s -> s.lines().anyMatch(l -> l.startsWith("  backlog ")
                        && l.chars().anyMatch(c -> c >= 0x2582 && c <= 0x2588)));
                assertTrue(screen.contains("  rate ") && screen.contains("  sent "), screen);

                tmux.keys("b");
                screen = tmux.await("sorted by backlog", s -> s.contains("sort: backlog"));
                assertTrue(screen.indexOf(ns.name() + "/tun0") < screen.indexOf(ns.name() + "/tap0"),
                        "the device with a backlog comes first: " + screen);
                tmux.keys("b");
                tmux.await("the sort reversed", s -> s.contains("sort: backlog (reversed)"));
                sender.join(10_000);

                tmux.keys("q");
                screen = tmux.await("top's exit", s -> s.contains("top-exit="));
                assertTrue(screen.contains("top-exit=0"), screen);
                assertTrue(screen.contains("tty-restored"), "stty -g differs after top: " + screen);
                assertTrue(screen.contains("before-top"), "the shell's screen is back: " + screen);
                assertFalse(screen.contains("DEVICE"), "top's screen is gone (alternate screen left): " + screen);
                pump.stop();
            }
        }
    }

    @Test
    void ctrlCLeavesTheTerminalAsItWas(@TempDir Path dir) throws Exception {
        try (KernelNs ns = KernelNs.create(); Tmux tmux = new Tmux(dir)) {
            ns.tun("tun0");
            tmux.start(ns.name(), "--interval", "200ms");
            tmux.await("top's screen", s -> row(s, "tun0") != null);
            tmux.keys("C-c");
            String screen = tmux.await("top's exit", s -> s.contains("top-exit="));
            assertTrue(screen.contains("top-exit=0"), screen);
            assertTrue(screen.contains("tty-restored"), "stty -g differs after Ctrl-C: " + screen);
            assertFalse(screen.contains("DEVICE"), screen);
        }
    }

    @Test
    void withoutATerminalItPrintsALinePerDevicePerInterval() {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("tun0").tap("tap0");
            assertEquals(0, CliRun.of("--netns", ns.name(), "apply", "tun0", "--rate", "1mbit").status());
            CliRun r = CliRun.of("--netns", ns.name(), "top", "-n", "2", "--interval", "200ms");
            assertEquals(0, r.status(), r.toString());
            List<String> lines = r.out().lines().toList();
            assertEquals(4, lines.size(), "two devices, two intervals: " + r);
            assertEquals(2, lines.stream().filter(l -> l.contains(ns.name() + "/tun0 qdisc=tbf rate_bps=1000000 "))
                    .count(), r.toString());
            assertTrue(lines.stream().allMatch(l -> l.contains(" sent_bps=0 ") && l.contains(" backlog_bytes=0 ")),
                    r.toString());
            CliRun json = CliRun.of("--netns", ns.name(), "--json", "top", "-n", "1", "--interval", "200ms");
            assertEquals(0, json.status(), json.toString());
            assertTrue(json.out().lines().allMatch(l -> l.startsWith("{\"time\":")), json.toString());
            assertTrue(json.out().contains("\"dev\":\"tun0\",\"qdisc\":\"tbf\",\"rate_bps\":1000000"), json.toString());
            // kernel flow control per device, from its tun_flags: ip tuntap never asks for IFF_BACKPRESSURE
            assertTrue(lines.stream().allMatch(l -> l.endsWith(" kernel_flow_control=off")), r.toString());
            assertTrue(json.out().lines().allMatch(l -> l.endsWith(",\"kernel_flow_control\":false}")), json.toString());
        }
    }

    /**
     * With a daemon (of the test's own, on its own sockets) serving a namespace, top run from this
     * namespace also lists that namespace's devices, with the daemon's capacity estimate.
     */
    @Test
    void aDaemonAddsItsNamespacesAndCapacities(@TempDir Path dir) throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.tap("tap0");
            Files.writeString(dir.resolve("adaptive-top.yaml"), "name: adaptive-top\ndescription: top's adaptive link\n"
                    + "source: test\nlink: {rate: 1mbit}\nadaptive: {min_rate: 250kbit, max_rate: 4mbit}\n");
            Files.writeString(dir.resolve("tunshape.yaml"), "report_socket: " + dir.resolve("report.sock") + "\n"
                    + "control_socket: " + dir.resolve("control.sock") + "\n"
                    + "interfaces:\n  - match: \"tap0\"\n    netns: \"" + ns.name() + "\"\n    profile: "
                    + dir.resolve("adaptive-top.yaml") + "\n    adaptive: true\n");
            try (PumpProcess daemon = new PumpProcess("daemon", "--config", dir.resolve("tunshape.yaml").toString())) {
                assertTrue(daemon.await("running with", 20_000), daemon.lines().toString());
                String socket = dir.resolve("control.sock").toString();
                String line = null;
                for (int i = 0; i < 50 && line == null; i++) {
                    DaemonSockets.report(dir.resolve("report.sock"), "{\"v\": 1, \"dev\": \"tap0\", \"netns\": \"" + ns.name() + "\", \"interval_ms\": 1000, "
                            + "\"tx_bytes\": 187500, \"busy_ms\": 1000, \"capacity_bps\": 1500000}");
                    CliRun r = CliRun.of("top", "--batch", "-n", "1", "--interval", "100ms", "--socket", socket);
                    assertEquals(0, r.status(), r.toString());
                    line = r.out().lines().filter(l -> l.contains(" " + ns.name() + "/tap0 ")
                            && !l.contains("capacity_bps=-")).findFirst().orElse(null);
                    Thread.sleep(100);
                }
                assertTrue(line != null, "top never showed the daemon's capacity for tap0; daemon: " + daemon.lines());
                assertTrue(line.contains("qdisc=htb") && line.contains("capacity_bps=1500000"), line);
                daemon.stop();
            }
        }
    }

    @Test
    void badOptionsAndAMissingNamespaceAreRefusedPlainly() {
        CliRun r = CliRun.of("top", "--interval", "10ms");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("--interval") && r.err().contains("at least 100ms"), r.toString());
        r = CliRun.of("top", "--sort", "size");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("'size' is not a sort key"), r.toString());
        KernelNs.requireRoot();
        r = CliRun.of("--netns", "tstest-no-such-ns-" + ProcessHandle.current().pid(), "top", "-n", "1");
        assertEquals(3, r.status(), r.toString());
    }

    /** The line of the table for {@code dev}, or null. */
    private static String row(String screen, String dev) {
        return screen.lines().filter(l -> l.matches("\\S+/" + dev + " .*") && !l.contains(":")).findFirst()
                .orElse(null);
    }

    private static void awaitCarrier(KernelNs ns) throws InterruptedException {
        for (int i = 0; i < 100; i++) {
            if (!ns.ip("link", "show", "tun0").contains("NO-CARRIER")) {
                return;
            }
            Thread.sleep(50);
        }
        fail("the pump did not open tun0: " + ns.ip("link", "show", "tun0"));
    }

    /** 1000-byte datagrams at about 1.6 Mbit/s for {@code seconds} through tun0 (bounded in count and time). */
    private static Thread sender(KernelNs ns, double seconds) {
        Thread t = new Thread(() -> {
            try (DatagramSocket tx = Netns.run(ns.name(), DatagramSocket::new)) {
                InetAddress peer = InetAddress.getByName("198.18.7.2");
                byte[] payload = new byte[1000];
                long end = System.nanoTime() + (long) (seconds * 1e9);
                for (int i = 0; i < 2000 && System.nanoTime() < end; i++) {
                    tx.send(new DatagramPacket(payload, payload.length, peer, 9));
                    Thread.sleep(5);
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, "top-test-sender");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** A tmux server of this test's own (its own socket name), killed on close. */
    static final class Tmux implements AutoCloseable {
        private final String socket = "tunshape-top-" + ProcessHandle.current().pid() + "-" + COUNTER.incrementAndGet();
        private final Path dir;

        Tmux(Path dir) {
            KernelNs.requireRoot();
            boolean present = KernelNs.exec("sh", "-c", "command -v tmux").status() == 0;
            if ("true".equals(System.getenv("CI"))) {
                assertTrue(present, "the top test needs tmux (apt-get install tmux); under CI=true it must run");
            } else {
                org.junit.jupiter.api.Assumptions.assumeTrue(present, "skipped: the top test needs tmux");
            }
            this.dir = dir;
        }

        /** A shell in a 140x40 pane that prints a marker, runs top, then says how it ended and whether stty -g is the same. */
        void start(String netns, String... topArgs) throws Exception {
            String java = System.getProperty("java.home") + "/bin/java";
            StringBuilder cmd = new StringBuilder("'" + java + "' -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp '"
                    + System.getProperty("java.class.path") + "' io.tunshape.cli.Main --netns " + netns
                    + " top --socket '" + dir.resolve("no-daemon.sock") + "'");
            for (String a : topArgs) {
                cmd.append(' ').append(a);
            }
            Path script = dir.resolve("run.sh");
            Files.writeString(script, "trap true INT\nprintf 'before-top\\n'\nbefore=$(stty -g)\nLANG=C.UTF-8 " + cmd + "\nrc=$?\n"
                    + "after=$(stty -g)\necho \"top-exit=$rc\"\n"
                    + "if [ \"$before\" = \"$after\" ]; then echo tty-restored; else echo tty-changed; fi\nsleep 120\n");
            tmux("new-session", "-d", "-x", "140", "-y", "40", "sh " + script);
        }

        void keys(String keys) {
            tmux("send-keys", "-t", "0", keys);
        }

        String capture() {
            return tmux("capture-pane", "-p", "-t", "0");
        }

        /** Polls the pane until {@code done} holds (15 s at most); the screen it held then. */
        String await(String what, Predicate<String> done) throws InterruptedException {
            String s = "";
            for (int i = 0; i < 150; i++) {
                s = capture();
                if (done.test(s)) {
                    return s;
                }
                Thread.sleep(100);
            }
            fail("the screen never showed " + what + "; it shows:\n" + s);
            return s;
        }

        private String tmux(String... args) {
            String[] cmd = new String[args.length + 4];
            cmd[0] = "tmux";
            cmd[1] = "-L";
            cmd[2] = socket;
            cmd[3] = "-u"; // the pane takes UTF-8 whatever this JVM's locale is
            System.arraycopy(args, 0, cmd, 4, args.length);
            if (args[0].equals("new-session")) {
                String[] withConf = new String[cmd.length + 2];
                System.arraycopy(cmd, 0, withConf, 0, 4);
                withConf[4] = "-f";
                withConf[5] = "/dev/null";
                System.arraycopy(cmd, 4, withConf, 6, args.length);
                cmd = withConf;
            }
            KernelNs.Exec e = KernelNs.exec(cmd);
            assertEquals(0, e.status(), String.join(" ", cmd) + ": " + e.output());
            return e.output();
        }

        @Override
        public void close() {
            KernelNs.Exec path = KernelNs.exec("tmux", "-L", socket, "display-message", "-p", "#{socket_path}");
            KernelNs.exec("tmux", "-L", socket, "kill-server");
            if (path.status() == 0 && path.output().strip().endsWith("/" + socket)) {
                try {
                    Files.deleteIfExists(Path.of(path.output().strip())); // tmux leaves its socket file behind
                } catch (java.io.IOException e) {
                    System.err.println("TopKernelTest: cannot remove " + path.output().strip() + ": " + e);
                }
            }
        }
    }
}
