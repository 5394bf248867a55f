package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Incomplete tunshape trees, made by hand with tc as an interrupted change would leave them: show
 * marks each as broken with what is missing (text and --json), and apply completes it.
 */
class BrokenTreeKernelTest {
    private static JsonNode broken(KernelNs ns, String dev) {
        CliRun r = CliRun.of("--netns", ns.name(), "--json", "show", dev);
        assertEquals(0, r.status(), r.toString());
        return readJson(r.out()).get("interfaces").get(0).get("broken");
    }

    private static void assertRepairedBy(KernelNs ns, String dev, String... apply) {
        String[] args = new String[apply.length + 4];
        args[0] = "--netns";
        args[1] = ns.name();
        args[2] = "apply";
        args[3] = dev;
        System.arraycopy(apply, 0, args, 4, apply.length);
        CliRun r = CliRun.of(args);
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.err().contains("had an incomplete tunshape tree") && r.err().contains("repaired"), r.err());
        assertEquals(0, broken(ns, dev).size(), "after apply: " + broken(ns, dev));
        ConcurrencyKernelTest.assertCompleteTree(ns, dev, "after apply");
        CliRun again = CliRun.of(args);
        assertEquals(0, again.status(), again.toString());
        assertTrue(again.out().contains(": unchanged:"), "a repaired tree is the plan: " + again.out());
    }

    @Test
    void htbRootWithoutItsClassIsShownBrokenAndApplyCompletesIt() {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            ns.tc("qdisc", "add", "dev", "t0", "root", "handle", "7474:", "htb", "default", "1");
            JsonNode b = broken(ns, "t0");
            assertEquals(1, b.size(), b.toString());
            assertTrue(b.get(0).asText().contains("htb root 7474: has no class"), b.toString());
            CliRun text = CliRun.of("--netns", ns.name(), "show", "t0");
            assertTrue(text.out().contains("BROKEN: htb root 7474: has no class"), text.out());
            assertRepairedBy(ns, "t0", "--qdisc", "htb", "--rate", "3mbit");
        }
    }

    @Test
    void classWithoutItsLeafIsShownBrokenAndApplyCompletesIt() {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            ns.tc("qdisc", "add", "dev", "t0", "root", "handle", "7474:", "htb", "default", "1");
            ns.tc("class", "add", "dev", "t0", "parent", "7474:", "classid", "7474:1", "htb", "rate", "3mbit");
            JsonNode b = broken(ns, "t0");
            assertEquals(1, b.size(), b.toString());
            assertTrue(b.get(0).asText().contains("class 7474:1 has no leaf qdisc"), b.toString());
            assertRepairedBy(ns, "t0", "--qdisc", "htb", "--rate", "3mbit");
        }
    }

    @Test
    void filterPointingNowhereAndMissingDefaultClassAreShownBrokenAndApplyCompletesThem() {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            assertEquals(0, CliRun.of("--netns", ns.name(), "apply", "t0", "-p", "manet-80211a-olsr").status());
            assertEquals(0, broken(ns, "t0").size(), "a whole tree is not broken");
            String filters = ns.tc("filter", "show", "dev", "t0");
            // the class the first u32 filter sends to, removed by hand (its leaf goes with it)
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("flowid (7474:[0-9a-f]+)").matcher(filters);
            assertTrue(m.find(), filters);
            String cls = m.group(1);
            ns.tc("filter", "del", "dev", "t0", "parent", "7474:");
            ns.tc("class", "del", "dev", "t0", "classid", cls);
            ns.tc("filter", "add", "dev", "t0", "parent", "7474:", "protocol", "ip", "prio", "1", "u32", "match", "ip",
                    "dport", "698", "0xffff", "flowid", cls);
            JsonNode b = broken(ns, "t0");
            assertTrue(b.toString().contains("points to " + cls + ", which does not exist"), b.toString());
            assertRepairedBy(ns, "t0", "-p", "manet-80211a-olsr");
        }
    }

    @Test
    void flowClassifierSendingToAMissingClassIsShownBrokenAndApplyCompletesIt() {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            CliRun a = CliRun.of("--netns", ns.name(), "apply", "t0", "--rate", "2mbit", "--flows", "4");
            assertEquals(0, a.status(), a.toString());
            assertEquals(0, broken(ns, "t0").size(), "a whole flow tree is not broken");
            String classes = ns.tc("class", "show", "dev", "t0");
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("class htb (7474:[0-9a-f]+) parent 7474:1 ")
                    .matcher(classes);
            assertTrue(m.find(), classes);
            String cls = m.group(1);
            ns.tc("class", "del", "dev", "t0", "classid", cls);
            JsonNode b = broken(ns, "t0");
            assertTrue(b.toString().contains("flow classifier") && b.toString().contains("1 of which do not exist"),
                    b.toString());
            assertRepairedBy(ns, "t0", "--rate", "2mbit", "--flows", "4");
        }
    }
}
