package io.tunshape.kernel;

import io.tunshape.netlink.Netns;
import io.tunshape.profile.HostDefaults;
import io.tunshape.profile.PlanException;
import io.tunshape.profile.Planner;
import io.tunshape.profile.ShapingRequest;
import io.tunshape.shape.Result;
import io.tunshape.shape.Session;
import io.tunshape.tc.Psched;
import io.tunshape.tc.TcCodec;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Shaping with no rate ({@code --rate reader}). Natively (no kernel here offers IFF_BACKPRESSURE)
 * apply must refuse it and change nothing; the kernel shape it makes where the flag is present is
 * applied through the Session API with the flags given as the planner's input.
 */
class ReaderPacedKernelTest {
    /** What sysfs shows for a tun device attached with IFF_TUN | IFF_NO_PI | IFF_BACKPRESSURE. */
    private static final int FLOW_CONTROL_FLAGS = 0x1081;

    private static ShapingRequest reader(int flows) {
        return new ShapingRequest(null, ShapingRequest.READER_RATE, ShapingRequest.READER, null, null, null, null,
                null, 2, 0, 0, null).withFlows(flows, null);
    }

    @Test
    void refusedOnADeviceWithoutKernelFlowControlAndNothingChanges() {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            String before = ns.tc("qdisc", "show", "dev", "t0");
            CliRun r = CliRun.of("--netns", ns.name(), "apply", "t0", "--rate", "reader");
            assertEquals(2, r.status(), r.toString());
            assertTrue(r.err().contains("--rate: rate reader on t0: its tun_flags 0x"), r.err());
            assertTrue(r.err().contains("lack IFF_BACKPRESSURE") && r.err().contains("Give a rate"), r.err());
            assertEquals(before, ns.tc("qdisc", "show", "dev", "t0"), "nothing changed");

            CliRun flows = CliRun.of("--netns", ns.name(), "apply", "t0", "--rate", "reader", "--flows", "4");
            assertEquals(2, flows.status(), flows.toString());
            assertEquals(before, ns.tc("qdisc", "show", "dev", "t0"), "nothing changed");

            CliRun dry = CliRun.of("--netns", ns.name(), "apply", "t0", "--rate", "reader", "--dry-run");
            assertEquals(0, dry.status(), dry.toString());
            assertTrue(dry.out().contains("rate: reader (paced by the reader; tbf at 32gbit as a formality"), dry.out());
            assertTrue(dry.out().contains("would install tbf 7473:"), dry.out());
            assertTrue(dry.err().contains("warning: t0: rate reader on t0"), dry.err());
            assertEquals(before, ns.tc("qdisc", "show", "dev", "t0"), "a dry run changes nothing");

            CliRun lat = CliRun.of("--netns", ns.name(), "apply", "t0", "--rate", "reader", "--latency", "1s");
            assertEquals(2, lat.status(), lat.toString());
            assertTrue(lat.err().contains("--latency"), lat.err());
        }
    }

    @Test
    void withTheFlagSetTheTreeIsAppliedIdempotentlyAndClearRestores() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            String before = ns.tc("qdisc", "show", "dev", "t0");
            Planner planner = new Planner(Psched.system(), HostDefaults.wmemDefault());
            long limit = 2 * HostDefaults.wmemDefault() + 65536;
            for (int flows : new int[] {0, 4}) {
                List<Result> first = apply(ns, reader(flows), planner);
                assertTrue(first.get(0).changed(), first.toString());
                assertTrue(String.join("\n", first.get(0).explanation()).contains("kernel flow control (tun_flags 0x1081"),
                        first.get(0).explanation().toString());
                List<Result> again = apply(ns, reader(flows), planner);
                assertFalse(again.get(0).changed(), "idempotent: " + again);
                if (flows == 0) {
                    String q = ns.tc("qdisc", "show", "dev", "t0");
                    assertTrue(q.contains("qdisc tbf 7473: root") && q.contains("rate 32Gbit"), q);
                    // tc shows the bucket as time at the rate, back in bytes: 65536 B is 16 us at 32gbit
                    assertTrue(q.contains("burst 64Kb") || q.contains("burst 65536b") || q.contains("burst 64000b"), q);
                    assertTrue(q.contains("lat") || q.contains("limit " + limit + "b"), q);
                } else {
                    String c = ns.tc("class", "show", "dev", "t0");
                    assertTrue(c.contains("class htb 7474:1 root rate 32Gbit ceil 32Gbit"), c);
                    for (String leaf : new String[] {"7474:100", "7474:103"}) {
                        assertTrue(c.contains("class htb " + leaf + " parent 7474:1 leaf"), c);
                    }
                    String f = ns.tc("filter", "show", "dev", "t0");
                    assertTrue(f.contains("bpf") || f.contains("u32"), f);
                    String q = ns.tc("qdisc", "show", "dev", "t0");
                    assertTrue(q.contains("qdisc bfifo 7600: parent 7474:100 limit " + limit + "b")
                            || q.contains("qdisc bfifo 7600: parent 7474:100 limit " + (limit / 1024) + "Kb"), q);
                }
            }
            assertEquals(0, CliRun.of("--netns", ns.name(), "clear", "t0").status());
            assertEquals(before, ns.tc("qdisc", "show", "dev", "t0"), "clear restores the kernel default");
        }
    }

    @Test
    void theSessionRefusesBeforeTheKernelWhenTheFlagsLackIt() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            String before = ns.tc("qdisc", "show", "dev", "t0");
            Planner planner = new Planner(Psched.system(), HostDefaults.wmemDefault());
            PlanException e = assertThrows(PlanException.class, () -> Netns.run(ns.name(), () -> {
                try (Session s = new Session(ns.name(), new TcCodec(Psched.system()))) {
                    return s.apply(List.of("t0"), reader(0), planner, false, ix -> Map.of("t0", 0x1001));
                }
            }));
            assertTrue(e.getMessage().contains("tun_flags 0x1001"), e.getMessage());
            assertEquals(before, ns.tc("qdisc", "show", "dev", "t0"));
        }
    }

    private static List<Result> apply(KernelNs ns, ShapingRequest r, Planner planner) throws Exception {
        return Netns.run(ns.name(), () -> {
            try (Session s = new Session(ns.name(), new TcCodec(Psched.system()))) {
                return s.apply(List.of("t0"), r, planner, false, ix -> Map.of("t0", FLOW_CONTROL_FLAGS));
            }
        });
    }
}
