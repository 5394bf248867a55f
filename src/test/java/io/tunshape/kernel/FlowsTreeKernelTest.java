package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.netlink.Netns;
import io.tunshape.profile.Planner;
import io.tunshape.profile.ShapingRequest;
import io.tunshape.shape.Result;
import io.tunshape.shape.Session;
import io.tunshape.sys.Bpf;
import io.tunshape.tc.Psched;
import io.tunshape.tc.Rate;
import io.tunshape.tc.TcCodec;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.CountedApply;
import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The flow-queue tree as apply makes it: readback, idempotency, changes in place, rollback, clear, a refused program. */
class FlowsTreeKernelTest {
    private static final Pattern PROG_ID = Pattern.compile("tunshape-flows (\\d+) 7474:100 .*? id (\\d+) name tunshape_flows tag ([0-9a-f]{16})");

    private static CliRun ok(String... args) {
        CliRun r = CliRun.of(args);
        assertEquals(0, r.status(), r.toString());
        return r;
    }

    private static Matcher filter(KernelNs ns) {
        String f = ns.tc("filter", "show", "dev", "t0");
        Matcher m = PROG_ID.matcher(f);
        assertTrue(m.find(), "the flow classifier as tc shows it: " + f);
        return m;
    }

    private static ShapingRequest flows(String rate, int n) {
        return new ShapingRequest(null, Rate.parse(rate), rate, null, null, null, null, null, 1, 0, 0, null)
                .withFlows(n, null);
    }

    @Test
    void theTreeReadsBackStaysIdempotentAndChangesInPlace() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            CliRun dry = ok("--netns", ns.name(), "apply", "t0", "--rate", "1mbit", "--flows", "16", "--dry-run");
            assertTrue(dry.out().contains("would add the flow classifier"), dry.out());
            assertTrue(dry.out().contains("is served first"), "the explanation says what one flow gets: " + dry.out());
            assertFalse(ns.tc("qdisc", "show", "dev", "t0").contains("7474:"), "dry run changed nothing");

            ok("--netns", ns.name(), "apply", "t0", "--rate", "1mbit", "--flows", "16");
            Matcher m = filter(ns);
            assertEquals("16", m.group(1));
            String progId = m.group(2);
            String classes = ns.tc("class", "show", "dev", "t0");
            for (int minor = 0x100; minor < 0x110; minor++) {
                assertTrue(classes.contains("class htb 7474:" + Integer.toHexString(minor) + " parent 7474:1 leaf "
                        + Integer.toHexString(0x7500 + minor) + ":"), classes);
            }
            JsonNode q = readJson(ok("--netns", ns.name(), "--json", "show", "t0").out()).get("interfaces").get(0)
                    .get("qdisc");
            assertFalse(q.has("broken") && q.get("broken").size() > 0, q.toString());
            JsonNode fl = q.get("flows");
            assertEquals(16, fl.get("count").asInt());
            assertEquals("7474:100", fl.get("first_class").asText());
            assertEquals("7474:10f", fl.get("last_class").asText());
            assertEquals(62496, fl.get("rate_bps").asLong(), "an equal share of 1mbit (7812 bytes/s)");
            assertEquals(1500, fl.get("quantum").asInt());
            assertEquals("tunshape-flows 16 7474:100", fl.get("classifier").get("name").asText());
            assertEquals(16, fl.get("queues").size());
            assertEquals(1, q.get("classes").size(), "the link class; the queues are under flows: " + q);

            // unchanged: only the dumps reach the kernel (links, qdiscs, then classes and filters of the htb)
            Planner planner = new Planner(Psched.system(), io.tunshape.profile.HostDefaults.wmemDefault());
            CountedApply counted = CountedApply.run(ns, "t0", flows("1mbit", 16), planner);
            assertFalse(counted.results().get(0).changed());
            assertEquals(4, counted.requestsSent(), "an unchanged apply sends only its four dumps");
            JsonNode again = readJson(ok("--netns", ns.name(), "--json", "apply", "t0", "--rate", "1mbit", "--flows", "16")
                    .out());
            assertFalse(again.get("changed").asBoolean(), again.toString());

            // a new rate: the link class and the queues' shares change in place; the classifier stays
            CliRun faster = ok("--netns", ns.name(), "-v", "apply", "t0", "--rate", "2mbit", "--flows", "16");
            assertTrue(faster.out().contains("changed"), faster.out());
            assertEquals(progId, filter(ns).group(2), "the same program, not loaded again");
            assertTrue(ns.tc("class", "show", "dev", "t0").contains("class htb 7474:1 root rate 2Mbit"));

            // more queues, then fewer: classes added and removed, the classifier replaced
            ok("--netns", ns.name(), "apply", "t0", "--rate", "2mbit", "--flows", "32");
            assertEquals("32", filter(ns).group(1));
            assertTrue(ns.tc("class", "show", "dev", "t0").contains("7474:11f"));
            ok("--netns", ns.name(), "apply", "t0", "--rate", "2mbit", "--flows", "4");
            assertEquals("4", filter(ns).group(1));
            String fewer = ns.tc("class", "show", "dev", "t0");
            assertTrue(fewer.contains("7474:103") && !fewer.contains("7474:104"), fewer);

            // no flows: the classifier goes, the single class takes everything
            ok("--netns", ns.name(), "apply", "t0", "--rate", "2mbit", "--qdisc", "htb");
            assertFalse(ns.tc("filter", "show", "dev", "t0").contains("bpf"));
            assertFalse(ns.tc("class", "show", "dev", "t0").contains("7474:100"));

            ok("--netns", ns.name(), "apply", "t0", "--rate", "2mbit", "--flows", "4");
            ok("--netns", ns.name(), "clear", "t0");
            assertFalse(ns.tc("qdisc", "show", "dev", "t0").contains("7474:"));
            assertFalse(ns.tc("filter", "show", "dev", "t0").contains("bpf"));
        }
    }

    @Test
    void aRefusalElsewherePutsTheFlowTreeBackWithItsClassifier() {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0").tun("t1");
            ok("--netns", ns.name(), "apply", "t0", "--rate", "1mbit", "--flows", "8");
            // t1 holds a foreign pfifo at tunshape's tbf handle: the kernel refuses to turn it into a tbf
            ns.tc("qdisc", "add", "dev", "t1", "root", "handle", "7473:", "pfifo", "limit", "10");
            String before = tree(ns);
            String tagBefore = filter(ns).group(3);
            CliRun r = CliRun.of("--netns", ns.name(), "apply", "t0", "t1", "--rate", "1mbit");
            assertEquals(1, r.status(), r.toString());
            assertTrue(r.err().contains("put back"), r.err());
            assertEquals(before, tree(ns));
            assertEquals(tagBefore, filter(ns).group(3), "the same classifier program is back");
            JsonNode again = readJson(ok("--netns", ns.name(), "--json", "apply", "t0", "--rate", "1mbit", "--flows", "8")
                    .out());
            assertFalse(again.get("changed").asBoolean(), "the put-back tree is the plan's: " + again);
        }
    }

    @Test
    void anAdaptiveRateChangeIsOneClassChangeInOneMessage() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            Planner planner = new Planner(Psched.system(), io.tunshape.profile.HostDefaults.wmemDefault());
            byte[] yaml = ("name: adaptive-flows\ndescription: test\nsource: test\nlink:\n  rate: 1mbit\n"
                    + "shaping:\n  flows: 16\nadaptive:\n  min_rate: 100kbit\n  max_rate: 2mbit\n")
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8);
            ShapingRequest profile = new io.tunshape.profile.ProfileLoader(List.of(), planner)
                    .parse(yaml, "adaptive-flows.yaml", null).request();
            io.tunshape.profile.Device dev = new io.tunshape.profile.Device("t0", 1500, 0, 500);
            ok("--netns", ns.name(), "apply", "t0", "--profile", writeTemp(yaml));
            long[] sent = new long[1];
            Netns.run(ns.name(), () -> {
                try (Session s = new Session(ns.name(), new TcCodec(Psched.system()))) {
                    int ix = s.shaper().snapshot().links().stream().filter(l -> l.name().equals("t0")).findFirst()
                            .orElseThrow().index();
                    long before = s.requestsSent();
                    // the daemon's path: the request at a new rate, planned without words, changed in place
                    io.tunshape.tc.HtbSpec h = (io.tunshape.tc.HtbSpec) planner.plan(
                            profile.asHtb(Rate.parse("300kbit"), null), dev, false).qdisc();
                    s.shaper().changeHtbInPlace(ix, h, false);
                    sent[0] = s.requestsSent() - before;
                }
                return null;
            });
            assertEquals(1, sent[0], "one message: the link class");
            assertTrue(ns.tc("class", "show", "dev", "t0").contains("class htb 7474:1 root rate 300Kbit"));
            // the queues' shares come from min_rate, so the next full apply at the new rate changes only the link class
            String dry = CliRun.of("--netns", ns.name(), "apply", "t0", "--profile", writeTemp(yaml), "--dry-run").out();
            assertTrue(dry.contains("would change htb class 7474:1 in place"), dry);
            assertFalse(Pattern.compile("would \\w+ (htb class|bfifo) 7[45]\\w*:1[0-9a-f]{2}").matcher(dry).find(), dry);
        }
    }

    private static String writeTemp(byte[] yaml) throws java.io.IOException {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("flows");
        java.nio.file.Path f = dir.resolve("adaptive-flows.yaml");
        java.nio.file.Files.write(f, yaml);
        f.toFile().deleteOnExit();
        dir.toFile().deleteOnExit();
        return f.toString();
    }

    /** Qdiscs and classes as tc shows them, line by line in order (the kernel lists them in hash order). */
    private static String tree(KernelNs ns) {
        return String.join("\n", (ns.tc("-d", "qdisc", "show", "dev", "t0") + ns.tc("-d", "class", "show", "dev", "t0"))
                .lines().sorted().toList());
    }

    /** r0 = r2; exit: r2 is never set, which the verifier refuses with its reason. */
    private static final byte[] UNVERIFIABLE = {
        (byte) 0xbf, 0x20, 0, 0, 0, 0, 0, 0,
        (byte) 0x95, 0, 0, 0, 0, 0, 0, 0};

    @Test
    void aProgramTheVerifierRefusesReachesTheUserWithItsLogAndNothingChanges() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            Planner planner = new Planner(Psched.system(), io.tunshape.profile.HostDefaults.wmemDefault());
            Bpf.RefusedException e = assertThrows(Bpf.RefusedException.class, () -> Netns.run(ns.name(), () -> {
                try (Session s = new Session(ns.name(), new TcCodec(Psched.system()),
                        p -> Bpf.load(Bpf.PROG_TYPE_SCHED_CLS, UNVERIFIABLE, "GPL", "refused"))) {
                    return s.apply(List.of("t0"), flows("1mbit", 16), planner, false);
                }
            }));
            assertNotNull(e.verifierLog());
            assertTrue(e.verifierLog().contains("R2 !read_ok"), "the verifier's own words: " + e.verifierLog());
            assertFalse(ns.tc("qdisc", "show", "dev", "t0").contains("7474:"), "nothing was changed");
            String shown = io.tunshape.cli.CliErrors.describe(e);
            assertTrue(shown.contains("the kernel's verifier said:\nR2 !read_ok") || shown.contains("R2 !read_ok"), shown);
            assertTrue(shown.contains("nothing was changed"), shown);
        }
    }
}
