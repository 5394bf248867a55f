package io.tunshape.daemon;

import io.tunshape.link.LinkInfo;
import io.tunshape.link.TunFlags;
import io.tunshape.netlink.Netns;
import io.tunshape.shape.DeviceState;
import io.tunshape.shape.Session;
import io.tunshape.tc.Psched;
import io.tunshape.tc.TcCodec;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import io.tunshape.tun.TunDevice;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The stall guard against the running kernel. On every kernel: a device without kernel flow control
 * is not guarded even when its reader has stopped with packets queued; the guard's action (the stall
 * qdisc as root) frees a sender blocked on packets the qdisc holds and counts what it drops; the
 * device's pass puts the exact plan back. A reader stopping on a device WITH the flag (Linux 7.3)
 * is the QEMU harness's check (docs/daemon.md, "The stall guard").
 */
class StallGuardKernelTest {
    /** 60 datagrams of 1000 bytes with an 8 KiB send buffer: it blocks while the qdisc holds its packets. */
    private static final String SENDER = """
            import socket, sys, time
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            for i in range(60):
                s.sendto(b'x' * 1000, ('198.18.0.2', 9))
            print('sent 60', flush=True)
            """;

    /** A tun device shaped by tunshape at 16 kbit/s whose reader is attached and never reads. */
    private static TunDevice stoppedReader(KernelNs ns) throws Exception {
        ns.tun("t0");
        ns.exec(List.of("sysctl", "-q", "-w", "net.ipv6.conf.t0.disable_ipv6=1"));
        TunDevice dev = Netns.run(ns.name(), () -> TunDevice.open("t0", false));
        ns.ip("addr", "add", "198.18.0.1", "peer", "198.18.0.2", "dev", "t0");
        ns.ip("link", "set", "t0", "up");
        CliRun r = CliRun.of("--netns", ns.name(), "apply", "t0", "--rate", "16kbit");
        assertEquals(0, r.status(), r.toString());
        return dev;
    }

    private static Process sender(KernelNs ns) throws Exception {
        return new ProcessBuilder("ip", "netns", "exec", ns.name(), "python3", "-c", SENDER).redirectErrorStream(true)
                .start();
    }

    /** Waits (at most 10 s: python starts slowly on a loaded machine) until the qdisc holds some of the sender's packets. */
    private static StallWatch.Sample queued(Session s) throws InterruptedException {
        StallWatch.Sample x = sample(s, "t0");
        for (int i = 0; i < 100 && x.backlogPackets() < 5; i++) {
            Thread.sleep(100);
            x = sample(s, "t0");
        }
        return x;
    }

    private static StallWatch.Sample sample(Session s, String dev) {
        Map<Integer, StallWatch.Sample> all = StallKernel.samples(s.shaper().snapshot());
        return all.get(index(s, dev));
    }

    private static int index(Session s, String dev) {
        return s.shaper().snapshot().links().stream().filter(l -> l.name().equals(dev)).findFirst().orElseThrow()
                .index();
    }

    private static Session session(KernelNs ns) throws Exception {
        return Netns.run(ns.name(), () -> new Session(ns.name(), new TcCodec(Psched.system())));
    }

    @Test
    void aDeviceWithoutKernelFlowControlIsNotGuardedEvenWithItsReaderStoppedAndPacketsQueued() throws Exception {
        try (KernelNs ns = KernelNs.create(); TunDevice dev = stoppedReader(ns); Session s = session(ns)) {
            Process p = sender(ns);
            try {
                StallWatch.Sample first = queued(s);
                Thread.sleep(600);
                StallWatch.Sample later = sample(s, "t0");
                // what a guard would call stalled: packets wait, the reader took nothing
                assertTrue(later.backlogPackets() > 0, "queued: " + later);
                assertEquals(first.readerPackets(), later.readerPackets(), "the reader took nothing");
                assertTrue(p.isAlive(), "the sender is blocked on its socket buffer");
                int ix = index(s, "t0");
                int flags = TunFlags.read(ns.name(), Map.of("t0", ix)).get("t0");
                assertFalse(TunFlags.flowControl(flags), "tun_flags 0x" + Integer.toHexString(flags));

                long[] clock = {0};
                Timers timers = new Timers(() -> clock[0]);
                List<String> log = new ArrayList<>();
                DaemonConfig c = DaemonConfig.parse("stall_after: 100ms\ninterfaces:\n  - {match: t0, profile: p}\n"
                        .getBytes(StandardCharsets.UTF_8), "d.yaml");
                StallWatch w = new StallWatch(timers, () -> clock[0], () -> c, new StallKernel(), n -> true, n -> { },
                        log::add);
                Namespace n = new Namespace(1, new NsFacts(1, false, List.of("/var/run/netns/" + ns.name()), 0, null,
                        null, null, null, null));
                LinkInfo l = s.shaper().snapshot().links().stream().filter(x -> x.index() == ix).findFirst()
                        .orElseThrow();
                Namespace.Device d = new Namespace.Device(l, c.interfaces().get(0), DeviceState.bare(l, null));
                n.devices.put("t0", d);
                w.passed(n, null);
                assertFalse(d.stall.guarded);
                assertEquals(Long.MAX_VALUE, timers.nextMs(), "nothing sampled");
                assertTrue(log.isEmpty(), log.toString());
                assertTrue(ns.tc("qdisc", "show", "dev", "t0").contains("qdisc tbf 7473: root"), "the plan stays");
            } finally {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void theStallActionFreesABlockedSenderCountsTheDropsAndThePassPutsTheExactPlanBack() throws Exception {
        try (KernelNs ns = KernelNs.create(); TunDevice dev = stoppedReader(ns); Session s = session(ns)) {
            String plan = ns.tc("qdisc", "show", "dev", "t0") + ns.tc("class", "show", "dev", "t0");
            Process p = sender(ns);
            try {
                queued(s);
                Thread.sleep(500);
                assertTrue(p.isAlive(), "blocked: the qdisc holds its datagrams");
                StallWatch.Sample held = sample(s, "t0");
                assertTrue(held.backlogPackets() > 0, held.toString());

                Netns.run(ns.name(), () -> s.shaper().send(StallKernel.stallStep(index(s, "t0"))));

                assertTrue(p.waitFor(2, TimeUnit.SECONDS), "the sender's blocked send returned");
                assertTrue(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).contains("sent 60"));
                String root = ns.tc("qdisc", "show", "dev", "t0");
                assertTrue(root.contains("qdisc pfifo 7472: root") && root.contains("limit 0p"), root);
                StallWatch.Sample stalled = sample(s, "t0");
                assertEquals(0, stalled.backlogPackets());
                assertTrue(stalled.stallDrops() > 0, "what came after the stall was dropped and counted: " + stalled);
                assertTrue(held.backlogPackets() + stalled.stallDrops() + stalled.readerPackets() <= 60 + 5,
                        held + " " + stalled);
            } finally {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
            // the device's pass (Session.apply, as the daemon's reconcile) puts the plan back
            CliRun r = CliRun.of("--netns", ns.name(), "apply", "t0", "--rate", "16kbit");
            assertEquals(0, r.status(), r.toString());
            assertEquals(plan, ns.tc("qdisc", "show", "dev", "t0") + ns.tc("class", "show", "dev", "t0"));
        }
    }
}
