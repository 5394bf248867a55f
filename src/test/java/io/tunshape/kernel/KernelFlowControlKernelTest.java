package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.netlink.Netns;
import io.tunshape.pump.KernelFlowControl;
import io.tunshape.testing.Bounds;
import io.tunshape.testing.KernelNs;
import io.tunshape.testing.PumpProcess;
import io.tunshape.tun.TunDevice;
import io.tunshape.tun.TunFlags;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pump's kernel flow control (IFF_BACKPRESSURE, Linux 7.3) against the running kernel: what
 * TUNGETFEATURES offers decides auto, on is an error where it is not offered, off is off, and the
 * device's tun_flags in sysfs show what was passed at TUNSETIFF. Written for both kinds of kernel:
 * on 6.18 (0x7173) the "not offered" paths run; on 7.3-rc (0x71f3) the "offered" ones.
 */
class KernelFlowControlKernelTest {
    private static final int IFF_TUN_NO_PI = 0x1001;
    private static final int IFF_VNET_HDR = 0x4000;

    private static boolean offered() {
        return (TunDevice.features() & TunDevice.IFF_BACKPRESSURE) != 0;
    }

    private static int sysfsFlags(KernelNs ns, String dev) {
        return Integer.decode(ns.exec(List.of("cat", "/sys/class/net/" + dev + "/tun_flags")).strip());
    }

    /** Runs a pump to sink with --stats --json; returns its stderr lines after a few intervals, and checks tun_flags. */
    private static List<String> pump(KernelNs ns, int expectFlags, String... extra) throws Exception {
        List<String> args = new ArrayList<>(List.of("--netns", ns.name(), "--json", "pump", "--dev", "t0", "--create",
                "--backend", "sink", "--stats", "--report-interval", "100ms", "--report", "/run/tunshape-test-none.sock"));
        args.addAll(List.of(extra));
        try (PumpProcess p = new PumpProcess(args.toArray(new String[0]))) {
            assertTrue(p.await("\"t_ms\"", 20_000), p.lines().toString());
            assertTrue(waitForIntervals(p, 3), p.lines().toString());
            assertEquals(expectFlags, sysfsFlags(ns, "t0"), "tun_flags of the pump's device: " + p.lines());
            assertEquals(0, p.stop(), p.lines().toString());
            return p.lines();
        }
    }

    private static boolean waitForIntervals(PumpProcess p, int n) throws InterruptedException {
        long end = System.currentTimeMillis() + Bounds.millis(10_000);
        while (System.currentTimeMillis() < end) {
            if (p.lines().stream().filter(l -> l.startsWith("{")).count() >= n) {
                return true;
            }
            Thread.sleep(50);
        }
        return false;
    }

    private static void assertSaidOnceAndCarried(List<String> lines, boolean on, String why) {
        List<String> said = lines.stream().filter(l -> l.contains("kernel flow control:")).toList();
        assertEquals(1, said.size(), "said once: " + lines);
        assertTrue(said.get(0).contains("kernel flow control: " + (on ? "on" : "off") + " (" + why), said.get(0));
        List<JsonNode> stats = lines.stream().filter(l -> l.startsWith("{")).map(l -> readJson(l)).toList();
        assertFalse(stats.isEmpty(), lines.toString());
        for (JsonNode s : stats) {
            assertEquals(on, s.get("kernel_flow_control").asBoolean(), s.toString());
        }
    }

    @Test
    void autoUsesWhatTheKernelOffersAndSaysSoOnce() throws Exception {
        boolean offered = offered();
        try (KernelNs ns = KernelNs.create()) {
            // without emulation the pump takes tun's offloads: IFF_VNET_HDR is in the flags too
            List<String> lines = pump(ns, IFF_TUN_NO_PI | IFF_VNET_HDR | (offered ? TunDevice.IFF_BACKPRESSURE : 0));
            assertSaidOnceAndCarried(lines, offered, offered ? "IFF_BACKPRESSURE"
                    : "Linux " + KernelFlowControl.kernelRelease() + " does not offer IFF_BACKPRESSURE");
        }
    }

    @Test
    void offIsOffOnEveryKernel() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            List<String> lines = pump(ns, IFF_TUN_NO_PI, "--no-offload", "--kernel-flow-control", "off");
            assertSaidOnceAndCarried(lines, false, "--kernel-flow-control off");
        }
    }

    @Test
    void onIsAnErrorNamingTheKernelWhereItIsNotOfferedAndCreatesNothing() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            if (offered()) {
                List<String> lines = pump(ns, IFF_TUN_NO_PI | TunDevice.IFF_BACKPRESSURE, "--emulate-rate", "1mbit",
                        "--kernel-flow-control", "on");
                assertSaidOnceAndCarried(lines, true, "IFF_BACKPRESSURE, asked for");
                return;
            }
            try (PumpProcess p = new PumpProcess("--netns", ns.name(), "pump", "--dev", "t0", "--create", "--backend",
                    "sink", "--kernel-flow-control", "on")) {
                assertEquals(1, p.waitFor(30_000), p.lines().toString());
                String out = String.join("\n", p.lines());
                assertTrue(out.contains("tunshape: pump t0: --kernel-flow-control on: Linux "
                        + KernelFlowControl.kernelRelease() + " does not offer IFF_BACKPRESSURE"), out);
                assertTrue(out.contains("nothing was changed; use auto or off"), out);
                assertFalse(out.contains("moving frames"), out);
            }
            KernelNs.Exec link = KernelNs.exec("ip", "-n", ns.name(), "link", "show", "t0");
            assertNotEquals(0, link.status(), "no device was created: " + link.output());
        }
    }

    @Test
    void aBadChoiceIsAUsageError() throws Exception {
        try (PumpProcess p = new PumpProcess("pump", "--dev", "t0", "--backend", "sink", "--kernel-flow-control",
                "maybe")) {
            assertEquals(2, p.waitFor(30_000), p.lines().toString());
            assertTrue(String.join("\n", p.lines()).contains("'maybe' is not a choice; accepted: auto, on, off"),
                    p.lines().toString());
        }
    }

    /**
     * The flags passed at TUNSETIFF, read back three ways: TUNGETIFF ({@link TunDevice#flags}), the
     * sysfs file through `ip netns exec`, and {@link TunFlags} over a sysfs mounted in the namespace.
     * A kernel without the flag ignores it (6.18: TUNSETIFF succeeds, tun_flags stays 0x1001).
     */
    @Test
    void theFlagsPassedAtTunsetiffAreWhatSysfsShows() throws Exception {
        boolean offered = offered();
        Path sys = Files.createTempDirectory("tssysfs");
        try (KernelNs ns = KernelNs.create()) {
            KernelNs.run("nsenter", "--net=/run/netns/" + ns.name(), "mount", "-t", "sysfs", "sysfs", sys.toString());
            try {
                Path classNet = sys.resolve("class/net");
                for (boolean asked : new boolean[] {false, true}) {
                    try (TunDevice d = Netns.run(ns.name(), () -> TunDevice.open("t0", false, asked))) {
                        int expect = IFF_TUN_NO_PI | (asked && offered ? TunDevice.IFF_BACKPRESSURE : 0);
                        assertEquals(expect, d.flags(), "asked " + asked + ", offered " + offered);
                        assertEquals(asked && offered, d.backpressure());
                        assertEquals(expect, sysfsFlags(ns, "t0"));
                        assertEquals(expect, TunFlags.read(classNet, "t0"));
                        assertEquals(asked && offered, TunFlags.backpressure(TunFlags.read(classNet, "t0")));
                    }
                }
                assertEquals(-1, TunFlags.read(classNet, "lo"), "not a tun device");
                assertEquals(-1, TunFlags.read(classNet, "nosuch0"), "no such device");
            } finally {
                KernelNs.exec("umount", sys.toString());
                Files.deleteIfExists(sys);
            }
        }
    }
}
