package io.tunshape.kernel;

import io.tunshape.netlink.Netns;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import io.tunshape.testing.PumpProcess;
import org.junit.jupiter.api.Test;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Faults outside the daemon (issue 14): a pump killed mid-write, a device renamed, a namespace deleted under an apply. */
class FaultKernelTest {
    private static boolean unchanged(KernelNs ns, String dev, String... opts) {
        String[] args = new String[opts.length + 6];
        System.arraycopy(new String[] {"--netns", ns.name(), "--json", "apply", dev}, 0, args, 0, 5);
        System.arraycopy(opts, 0, args, 5, opts.length);
        args[args.length - 1] = "--dry-run";
        CliRun r = CliRun.of(args);
        assertEquals(0, r.status(), r.toString());
        return !readJson(r.out()).get("changed").asBoolean();
    }

    private static void send(KernelNs ns, int count) throws Exception {
        Netns.run(ns.name(), () -> {
            try (DatagramSocket s = new DatagramSocket()) {
                byte[] b = new byte[1000];
                for (int i = 0; i < count; i++) {
                    s.send(new DatagramPacket(b, b.length, InetAddress.getByName("198.18.0.2"), 9));
                }
            }
            return null;
        });
    }

    private static final Pattern FRAMES = Pattern.compile("\"tx_frames\":(\\d+)");

    private static long framesMoved(PumpProcess p) {
        long n = 0;
        for (String l : p.lines()) {
            Matcher m = FRAMES.matcher(l);
            if (m.find()) {
                n += Long.parseLong(m.group(1));
            }
        }
        return n;
    }

    @Test
    void aPumpKilledMidWriteLeavesTheDeviceWholeAndANewPumpCarriesOn() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            ns.ip("addr", "add", "198.18.0.1", "peer", "198.18.0.2", "dev", "t0");
            assertEquals(0, CliRun.of("--netns", ns.name(), "apply", "t0", "--rate", "20mbit").status());
            // exec:cat writes every frame back: the pump is writing into the device and into its driver
            try (PumpProcess first = new PumpProcess("--netns", ns.name(), "pump", "--dev", "t0", "--backend",
                    "exec:cat")) {
                assertTrue(first.await("moving frames", 15_000), first.lines().toString());
                ns.ip("link", "set", "t0", "up");
                CompletableFuture<Void> flood = CompletableFuture.runAsync(() -> {
                    try {
                        send(ns, 3000);
                    } catch (Exception e) {
                        // the device may go down under the sender: the flood just ends
                    }
                });
                Thread.sleep(150);
                KernelNs.run("kill", "-KILL", Long.toString(first.pid()));
                assertTrue(first.waitFor(10_000) != Integer.MIN_VALUE, "the pump did not die");
                flood.get(30, TimeUnit.SECONDS);
            }
            assertTrue(ns.ip("link", "show", "t0").contains("t0"), "the device stays");
            assertTrue(unchanged(ns, "t0", "--rate", "20mbit"), "the shaping stays whole");
            try (PumpProcess second = new PumpProcess("--netns", ns.name(), "--json", "pump", "--dev", "t0",
                    "--backend", "sink", "--stats", "--report-interval", "200ms")) {
                assertTrue(second.await("moving frames", 15_000), second.lines().toString());
                send(ns, 50);
                long end = System.currentTimeMillis() + 5000;
                while (framesMoved(second) < 50 && System.currentTimeMillis() < end) {
                    Thread.sleep(50);
                }
                assertTrue(framesMoved(second) >= 50, "the new pump moves frames: " + second.lines());
            }
        }
    }

    @Test
    void aRenamedDeviceKeepsItsWholeShapingUnderItsNewName() {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            assertEquals(0, CliRun.of("--netns", ns.name(), "apply", "t0", "-p", "manet-80211a-olsr").status());
            ns.ip("link", "set", "t0", "name", "t9");
            CliRun shown = CliRun.of("--netns", ns.name(), "--json", "show", "t9");
            assertEquals(0, shown.status(), shown.toString());
            assertEquals(0, readJson(shown.out()).get("interfaces").get(0).get("broken").size(), shown.out());
            assertTrue(unchanged(ns, "t9", "-p", "manet-80211a-olsr"), "the plan holds under the new name");
            CliRun old = CliRun.of("--netns", ns.name(), "apply", "t0", "-p", "manet-80211a-olsr");
            assertEquals(3, old.status(), old.toString());
            assertTrue(old.err().contains("no interface 't0'"), old.err());
        }
    }

    @Test
    void aNamespaceDeletedUnderAnApplyEndsItWithAClearErrorAndNoHang(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        KernelNs ns = KernelNs.create();
        try {
            StringBuilder batch = new StringBuilder();
            for (int i = 0; i < 400; i++) {
                batch.append("tuntap add dev t").append(i).append(" mode tun\n");
            }
            Files.writeString(dir.resolve("batch"), batch);
            ns.ip("-batch", dir.resolve("batch").toString());
            CompletableFuture<CliRun> apply = CompletableFuture.supplyAsync(() -> CliRun.of("--netns", ns.name(),
                    "apply", "t*", "-p", "manet-80211a-olsr"));
            // deleted once the apply is changing devices (some htb roots are in)
            long end = System.currentTimeMillis() + 30_000;
            while (!apply.isDone() && System.currentTimeMillis() < end
                    && ns.tc("qdisc", "show").split("qdisc htb 7474:", -1).length < 6) {
                Thread.sleep(5);
            }
            KernelNs.run("ip", "netns", "del", ns.name());
            CliRun r = apply.get(60, TimeUnit.SECONDS);
            // finished first (0), or the devices went with the namespace under it: a clear error, never an
            // internal one, and never success with a device missing
            assertTrue(List.of(0, 1, 3).contains(r.status()), r.toString());
            assertFalse(r.err().contains("internal error"), r.toString());
            System.out.println("FaultKernelTest: apply under a deleted namespace: exit " + r.status() + ": "
                    + r.err().lines().findFirst().orElse(""));
        } finally {
            ns.close();
        }
    }
}
