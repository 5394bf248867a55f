package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.netlink.Netns;
import io.tunshape.profile.Planner;
import io.tunshape.profile.ShapingRequest;
import io.tunshape.shape.Result;
import io.tunshape.shape.Session;
import io.tunshape.tc.FlowQueues;
import io.tunshape.tc.Psched;
import io.tunshape.tc.Rate;
import io.tunshape.tc.TcCodec;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.CountedApply;
import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The u32 fallback of the flow classifier as apply makes it: readback, idempotency, changes in place,
 * rollback, clear, broken-tree detection, and the fallback taken for real where the kernel refuses
 * eBPF (a process without CAP_BPF and CAP_SYS_ADMIN).
 */
class FlowsU32TreeKernelTest {
    private static CliRun ok(String... args) {
        CliRun r = CliRun.of(args);
        assertEquals(0, r.status(), r.toString());
        return r;
    }

    private static String filters(KernelNs ns) {
        return ns.tc("filter", "show", "dev", "t0");
    }

    private static JsonNode shown(KernelNs ns) {
        return readJson(ok("--netns", ns.name(), "--json", "show", "t0").out()).get("interfaces").get(0);
    }

    private static JsonNode shownQdisc(KernelNs ns) {
        return shown(ns).get("qdisc");
    }

    @Test
    void theU32TreeReadsBackStaysIdempotentChangesInPlaceAndClears() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            CliRun dry = ok("--netns", ns.name(), "apply", "t0", "--rate", "1mbit", "--flows", "16",
                    "--flows-classifier", "u32", "--dry-run");
            assertTrue(dry.out().contains("would add the u32 flow classifier"), dry.out());
            assertTrue(dry.out().contains("flow classifier: u32, the fallback where eBPF is refused"), dry.out());
            assertTrue(dry.out().contains("weaker than eBPF's flow hash"), dry.out());
            assertFalse(ns.tc("qdisc", "show", "dev", "t0").contains("7474:"), "dry run changed nothing");

            CliRun applied = ok("--netns", ns.name(), "apply", "t0", "--rate", "1mbit", "--flows", "16",
                    "--flows-classifier", "u32");
            assertTrue(applied.err().contains("u32 fallback"), "said once, as a warning: " + applied);
            String f = filters(ns);
            assertTrue(f.contains("ht divisor 16"), f);
            assertTrue(f.contains("hash mask fffe0000 at 0"), f);
            assertTrue(f.contains("offset 0f00>>6 at 0  eat"), "IPv4: on by the IHL: " + f);
            assertTrue(f.contains("offset plus 40  eat"), "IPv6: a fixed header: " + f);
            assertFalse(f.contains("bpf"), f);
            assertEquals(0, shown(ns).get("broken").size(), shown(ns).toString());
            JsonNode q = shownQdisc(ns);
            JsonNode fl = q.get("flows");
            assertEquals(16, fl.get("count").asInt(), q.toString());
            assertEquals("u32", fl.get("classifier").get("kind").asText());
            assertTrue(fl.get("classifier").get("fallback").asBoolean());
            assertEquals(16, fl.get("classifier").get("buckets").asInt());
            assertTrue(fl.get("classifier").get("weaker").asText().contains("source port"));
            assertEquals(1, q.get("classes").size(), "the link class; the queues are under flows: " + q);
            String shown = ok("--netns", ns.name(), "show", "t0").out();
            assertTrue(shown.contains("u32 (source port bits 1-4 over 16 buckets: the fallback where eBPF is refused"),
                    shown);

            // unchanged: only the dumps reach the kernel
            Planner planner = new Planner(Psched.system(), io.tunshape.profile.HostDefaults.wmemDefault());
            ShapingRequest req = new ShapingRequest(null, Rate.parse("1mbit"), "1mbit", null, null, null, null, null, 1,
                    0, 0, null).withFlows(16, null).withClassifier(FlowQueues.Classifier.U32, null);
            CountedApply counted = CountedApply.run(ns, "t0", req, planner);
            assertFalse(counted.results().get(0).changed());
            assertEquals(4, counted.requestsSent(), "an unchanged apply sends only its four dumps");

            // a new rate: classes change in place, the classifier stays
            CliRun faster = ok("--netns", ns.name(), "apply", "t0", "--rate", "2mbit", "--flows", "16",
                    "--flows-classifier", "u32", "--dry-run");
            assertFalse(faster.out().contains("u32 flow classifier ("), faster.out());
            assertFalse(faster.out().contains("remove the filters"), faster.out());
            ok("--netns", ns.name(), "apply", "t0", "--rate", "2mbit", "--flows", "16", "--flows-classifier", "u32");
            assertEquals(f, filters(ns), "the classifier untouched by a rate change");

            // fewer queues, not a power of two: 8 buckets over 5 queues
            ok("--netns", ns.name(), "apply", "t0", "--rate", "2mbit", "--flows", "5", "--flows-classifier", "u32");
            String five = filters(ns);
            assertTrue(five.contains("ht divisor 8") && five.contains("flowid 7474:104")
                    && !five.contains("flowid 7474:105"), five);
            assertEquals(5, shownQdisc(ns).get("flows").get("count").asInt());

            // to the eBPF classifier and back
            ok("--netns", ns.name(), "apply", "t0", "--rate", "2mbit", "--flows", "5");
            String bpf = filters(ns);
            assertTrue(bpf.contains("tunshape_flows") && !bpf.contains("u32"), bpf);
            ok("--netns", ns.name(), "apply", "t0", "--rate", "2mbit", "--flows", "5", "--flows-classifier", "u32");
            assertEquals(five, filters(ns));

            ok("--netns", ns.name(), "clear", "t0");
            assertFalse(ns.tc("qdisc", "show", "dev", "t0").contains("7474:"));
            assertEquals("", filters(ns).strip());
        }
    }

    @Test
    void aRefusalElsewherePutsTheU32TreeBack() {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0").tun("t1");
            ok("--netns", ns.name(), "apply", "t0", "--rate", "1mbit", "--flows", "8", "--flows-classifier", "u32");
            ns.tc("qdisc", "add", "dev", "t1", "root", "handle", "7473:", "pfifo", "limit", "10");
            String before = sortedLines(filters(ns));
            CliRun r = CliRun.of("--netns", ns.name(), "apply", "t0", "t1", "--rate", "1mbit");
            assertEquals(1, r.status(), r.toString());
            assertTrue(r.err().contains("put back"), r.err());
            assertEquals(before, sortedLines(filters(ns)), "the same u32 tables and nodes");
            JsonNode again = readJson(ok("--netns", ns.name(), "--json", "apply", "t0", "--rate", "1mbit", "--flows",
                    "8", "--flows-classifier", "u32").out());
            assertFalse(again.get("changed").asBoolean(), "the put-back tree is the plan's: " + again);
        }
    }

    @Test
    void aMissingBucketIsABrokenTreeThatApplyRepairs() {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            ok("--netns", ns.name(), "apply", "t0", "--rate", "1mbit", "--flows", "4", "--flows-classifier", "u32");
            // bucket 3 of IPv4's hash table (2:) loses its node
            ns.tc("filter", "del", "dev", "t0", "parent", "7474:", "prio", "49152", "handle", "2:3:800", "u32");
            JsonNode q = shown(ns);
            assertTrue(q.get("broken").toString().contains("u32 flow classifier"), q.toString());
            assertTrue(ok("--netns", ns.name(), "show", "t0").out().contains("BROKEN: the u32 flow classifier"));
            CliRun fixed = ok("--netns", ns.name(), "apply", "t0", "--rate", "1mbit", "--flows", "4",
                    "--flows-classifier", "u32");
            assertTrue(fixed.err().contains("incomplete"), fixed.toString());
            assertEquals(0, shown(ns).get("broken").size());
            assertEquals(4, shownQdisc(ns).get("flows").get("count").asInt());
        }
    }

    /** tunshape as its own process inside the namespace, without CAP_BPF and CAP_SYS_ADMIN: bpf(2) says EPERM. */
    private static KernelNs.Exec withoutBpf(KernelNs ns, String... args) {
        return KernelNs.tunshapeWithout(List.of("ip", "netns", "exec", ns.name()), "-bpf,-sys_admin", args);
    }

    @Test
    void whereTheKernelRefusesEbpfApplyFallsBackToU32AndSaysSo() {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            KernelNs.Exec forced = withoutBpf(ns, "apply", "t0", "--rate", "1mbit", "--flows", "8",
                    "--flows-classifier", "bpf");
            assertEquals(4, forced.status(), "asked for eBPF, refused: " + forced.output());
            assertTrue(forced.output().contains("CAP_BPF"), forced.output());
            assertFalse(ns.tc("qdisc", "show", "dev", "t0").contains("7474:"), "nothing was changed");

            KernelNs.Exec auto = withoutBpf(ns, "apply", "t0", "--rate", "1mbit", "--flows", "8");
            assertEquals(0, auto.status(), auto.output());
            assertTrue(auto.output().contains("u32 fallback") && auto.output().contains("Operation not permitted"),
                    "the fallback and its reason: " + auto.output());
            String f = filters(ns);
            assertTrue(f.contains("ht divisor 8") && !f.contains("bpf"), f);
            KernelNs.Exec again = withoutBpf(ns, "--json", "apply", "t0", "--rate", "1mbit", "--flows", "8");
            assertEquals(0, again.status(), again.output());
            assertTrue(again.output().contains("\"changed\":false") || again.output().contains("\"changed\" : false"),
                    again.output());
        }
    }

    private static String sortedLines(String s) {
        return String.join("\n", s.lines().sorted().toList());
    }
}
