package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.sys.UnixDatagram;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import io.tunshape.testing.PumpProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BooleanSupplier;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The daemon beside people and faults (issue 14): CLI applies against a running daemon, the
 * daemon's configuration winning and saying so, half trees repaired on sight, an MTU raised under
 * it, and 1000 htb devices through a SIGKILL mid-shaping, a report flood, a namespace deleted while
 * it is being shaped, and a control client that never reads.
 */
class DaemonReliabilityKernelTest {
    private static boolean within(long millis, BooleanSupplier cond) throws InterruptedException {
        long end = System.currentTimeMillis() + millis;
        while (System.currentTimeMillis() < end) {
            if (cond.getAsBoolean()) {
                return true;
            }
            Thread.sleep(25);
        }
        return cond.getAsBoolean();
    }

    private static String config(Path dir, String rules) {
        return "report_socket: " + dir.resolve("report.sock") + "\n"
                + "control_socket: " + dir.resolve("control.sock") + "\n"
                + "interfaces:\n" + rules;
    }

    private static PumpProcess daemon(Path dir) throws Exception {
        PumpProcess d = new PumpProcess("daemon", "--config", dir.resolve("tunshape.yaml").toString());
        try {
            assertTrue(d.await("running with", 120_000), tail(d));
        } catch (AssertionError | InterruptedException e) {
            d.close(); // not returned, so no one else would end it
            throw e;
        }
        return d;
    }

    /** Whether the kernel holds this plan: apply's own dry run would send nothing. */
    private static boolean holds(KernelNs ns, String dev, String... opts) {
        String[] args = new String[opts.length + 7];
        args[0] = "--netns";
        args[1] = ns.name();
        args[2] = "--json";
        args[3] = "apply";
        args[4] = dev;
        System.arraycopy(opts, 0, args, 5, opts.length);
        args[args.length - 2] = "--dry-run";
        args[args.length - 1] = "--wait=0";
        CliRun r = CliRun.of(args);
        return r.status() == 0 && !readJson(r.out()).get("changed").asBoolean();
    }

    /** The daemon's last lines (a thousand devices make a long log). */
    private static String tail(PumpProcess d) {
        java.util.List<String> l = d.lines();
        return String.join("\n", l.subList(Math.max(0, l.size() - 15), l.size()));
    }

    private static boolean logged(PumpProcess d, String text) {
        return d.lines().stream().anyMatch(l -> l.contains(text));
    }

    @Test
    void cliAppliesAgainstTheDaemonLeaveOneWholePlanAndTheDaemonWinsAndRepairsHalfTrees(@TempDir Path dir)
            throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            Files.writeString(dir.resolve("tunshape.yaml"), config(dir,
                    "  - match: \"t0\"\n    netns: \"" + ns.name() + "\"\n    profile: manet-80211a-olsr\n"));
            ns.tun("t0");
            try (PumpProcess d = daemon(dir)) {
                assertTrue(within(10_000, () -> holds(ns, "t0", "-p", "manet-80211a-olsr")), d.lines().toString());
                for (int i = 0; i < 10; i++) {
                    String[] mine = i % 2 == 0 ? new String[] {"--rate", (i + 1) + "mbit"}
                            : new String[] {"--qdisc", "htb", "--rate", (i + 1) + "mbit"};
                    String[] args = new String[mine.length + 4];
                    args[0] = "--netns";
                    args[1] = ns.name();
                    args[2] = "apply";
                    args[3] = "t0";
                    System.arraycopy(mine, 0, args, 4, mine.length);
                    CliRun r = CliRun.of(args);
                    assertEquals(0, r.status(), "apply " + i + " against the daemon: " + r);
                    // right after: exactly one of the two plans, whole (the daemon's pass may have come already)
                    String[] daemonPlan = {"-p", "manet-80211a-olsr"};
                    boolean cli = holds(ns, "t0", mine);
                    boolean dmn = holds(ns, "t0", daemonPlan);
                    ConcurrencyKernelTest.assertCompleteTree(ns, "t0", "apply " + i);
                    if (cli == dmn) {
                        // neither: a pass may be in the middle; the lock makes a dry run wait for it
                        assertTrue(within(3000, () -> holds(ns, "t0", mine) != holds(ns, "t0", daemonPlan)),
                                "apply " + i + ": the kernel holds " + (cli ? "both" : "neither") + "\n"
                                        + ns.tc("qdisc", "show", "dev", "t0"));
                    }
                    // who wins: the daemon's configuration, at its next pass, and it says so
                    assertTrue(within(5000, () -> holds(ns, "t0", daemonPlan)), "apply " + i + ": the daemon "
                            + "did not shape t0 again\n" + d.lines());
                }
                assertTrue(logged(d, "the daemon's configuration wins"), d.lines().toString());

                // a half tree made by hand (the default class removed with its leaf): repaired on sight
                ns.tc("class", "del", "dev", "t0", "classid", "7474:1" + "3");
                assertTrue(within(5000, () -> holds(ns, "t0", "-p", "manet-80211a-olsr")),
                        "the daemon did not repair t0\n" + d.lines() + ns.tc("class", "show", "dev", "t0"));
                ConcurrencyKernelTest.assertCompleteTree(ns, "t0", "after the repair");
                assertTrue(within(2000, () -> logged(d, "had an incomplete tunshape tree")), d.lines().toString());

                // the MTU raised under the daemon: the burst follows (at least one new frame)
                ns.ip("link", "set", "t0", "mtu", "9000");
                assertTrue(within(5000, () -> ns.tc("class", "show", "dev", "t0").matches("(?s).*burst 9\\d{3}b.*")),
                        "burst did not follow the MTU\n" + ns.tc("class", "show", "dev", "t0") + d.lines());
            }
        }
    }

    private static int count(String text, String what) {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    /** Devices whose tree show marks broken, and devices shaped as the plan, over 1000. */
    private static int[] brokenAndWhole(KernelNs ns) {
        CliRun shown = CliRun.of("--netns", ns.name(), "--json", "show", "t*");
        assertEquals(0, shown.status(), shown.toString());
        int broken = 0;
        for (JsonNode i : readJson(shown.out()).get("interfaces")) {
            broken += i.get("broken").size() > 0 ? 1 : 0;
        }
        CliRun dry = CliRun.of("--netns", ns.name(), "--json", "apply", "t*", "-p", "manet-80211a-olsr", "--dry-run");
        int whole = 0;
        for (JsonNode r : readJson(dry.out()).get("results")) {
            whole += r.get("changed").asBoolean() ? 0 : 1;
        }
        return new int[] {broken, whole};
    }

    @Test
    void thousandDevicesThroughSigkillReportFloodDeletedNamespaceAndAClientThatNeverReads(@TempDir Path dir)
            throws Exception {
        int n = 1000;
        try (KernelNs ns = KernelNs.create(); KernelNs doomed = KernelNs.create()) {
            StringBuilder batch = new StringBuilder();
            for (int i = 0; i < n; i++) {
                batch.append("tuntap add dev t").append(i).append(" mode tun\n");
            }
            Files.writeString(dir.resolve("batch"), batch);
            ns.ip("-batch", dir.resolve("batch").toString());
            doomed.ip("-batch", dir.resolve("batch").toString());
            // (the doomed namespace has as many: it is deleted while they are being shaped)
            Files.writeString(dir.resolve("tunshape.yaml"), config(dir,
                    "  - match: \"t*\"\n    netns: \"" + ns.name() + "\"\n    profile: manet-80211a-olsr\n"
                            + "  - match: \"t*\"\n    netns: \"" + doomed.name() + "\"\n    profile: manet-80211a-olsr\n"));

            // SIGKILL in the middle of shaping the 1000
            PumpProcess first = new PumpProcess("daemon", "--config", dir.resolve("tunshape.yaml").toString());
            int[] atKill = new int[1];
            try {
                assertTrue(within(60_000, () -> {
                    atKill[0] = count(ns.tc("qdisc", "show"), "qdisc htb 7474:");
                    return atKill[0] >= 20;
                }), "the daemon shaped nothing\n" + tail(first));
                KernelNs.run("kill", "-KILL", Long.toString(first.pid()));
                first.waitFor(10_000);
            } finally {
                first.close();
            }
            int[] after = brokenAndWhole(ns);
            System.out.printf("DaemonReliabilityKernelTest: SIGKILL with %d of %d htb roots in place: %d whole, %d "
                    + "broken, %d as they were%n", atKill[0], n, after[1], after[0], n - after[1] - after[0]);

            // started again, with a report flood while it shapes, and the doomed namespace deleted meanwhile
            try (PumpProcess second = daemon(dir)) {
                int sent = 0;
                try (UnixDatagram tx = new UnixDatagram()) {
                    ByteBuffer to = UnixDatagram.address(dir.resolve("report.sock").toString());
                    byte[][] junk = {"{\"v\":1,\"dev\":\"t7\",\"interval_ms\":1000,\"tx_bytes\":1,\"busy_ms\":1}"
                            .getBytes(StandardCharsets.UTF_8), "not json".getBytes(StandardCharsets.UTF_8),
                        "{\"v\":1,\"dev\":\"nope\",\"interval_ms\":1e3,\"tx_bytes\":1,\"busy_ms\":1}"
                            .getBytes(StandardCharsets.UTF_8)};
                    long end = System.currentTimeMillis() + 3000;
                    for (int i = 0; i < 20_000 && System.currentTimeMillis() < end; i++) {
                        byte[] b = junk[i % junk.length];
                        try {
                            tx.send(ByteBuffer.allocateDirect(b.length).put(b).flip(), to);
                            sent++;
                        } catch (RuntimeException full) {
                            Thread.sleep(1);
                        }
                        if (i == 200) {
                            KernelNs.run("ip", "netns", "del", doomed.name()); // while the daemon shapes it
                        }
                    }
                }
                assertTrue(within(90_000, () -> brokenAndWhole(ns)[1] == n), "not every device came back whole: "
                        + java.util.Arrays.toString(brokenAndWhole(ns)) + "\n" + tail(second));
                assertEquals(0, brokenAndWhole(ns)[0], "a half tree left");
                assertTrue(second.isAlive(), "the daemon ended: " + tail(second));

                // a control client that connects and never reads does not stop the next one
                try (SocketChannel idle = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                    idle.connect(UnixDomainSocketAddress.of(dir.resolve("control.sock")));
                    CliRun status = CliRun.of("status", "--socket", dir.resolve("control.sock").toString(), "--json");
                    assertEquals(0, status.status(), status.toString());
                    JsonNode st = readJson(status.out());
                    System.out.printf("DaemonReliabilityKernelTest: the state is %d bytes (more than a socket "
                            + "buffer holds, so the idle client's copy is never all written)%n", status.out().length());
                    assertTrue(st.get("interfaces").size() >= n, "status lists the devices");
                    long refused = st.get("reports").get("refused").asLong();
                    System.out.printf("DaemonReliabilityKernelTest: %d reports sent in the flood, %d refused%n",
                            sent, refused);
                    assertTrue(refused > 0, "the flood's reports were counted: " + st.get("reports"));
                }
            }
        } catch (AssertionError e) {
            throw e;
        } catch (Exception e) {
            fail(e);
        }
    }

    @Test
    void eventOverrunsForcedWithASmallReceiveBufferEndInAFullPassThatShapesEveryDevice(@TempDir Path dir)
            throws Exception {
        int n = 300;
        try (KernelNs ns = KernelNs.create()) {
            Files.writeString(dir.resolve("tunshape.yaml"), config(dir,
                    "  - match: \"t*\"\n    netns: \"" + ns.name() + "\"\n    profile: ax25-9600-g3ruh\n"));
            ns.tun("t0");
            // the smallest receive buffer the kernel gives (it doubles the value and keeps a floor)
            try (PumpProcess d = new PumpProcess(java.util.Map.of("TUNSHAPE_EVENT_RCVBUF", "256"), "daemon",
                    "--config", dir.resolve("tunshape.yaml").toString())) {
                assertTrue(d.await("running with", 120_000), tail(d));
                assertTrue(within(10_000, () -> holds(ns, "t0", "-p", "ax25-9600-g3ruh")), tail(d));
                StringBuilder batch = new StringBuilder();
                for (int i = 1; i <= n; i++) {
                    batch.append("tuntap add dev t").append(i).append(" mode tun\n");
                }
                Files.writeString(dir.resolve("batch"), batch);
                ns.ip("-batch", dir.resolve("batch").toString());
                assertTrue(within(60_000, () -> holds(ns, "t*", "-p", "ax25-9600-g3ruh")),
                        "not every device shaped after the overruns\n" + tail(d));
                assertTrue(logged(d, "events overran (ENOBUFS)"), "no overrun was forced: " + tail(d));
                assertTrue(d.isAlive(), tail(d));
            }
        }
    }
}
