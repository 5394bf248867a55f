package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.profile.Planner;
import io.tunshape.profile.Profile;
import io.tunshape.profile.ProfileLoader;
import io.tunshape.tc.Psched;
import io.tunshape.tc.Units;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every shipped profile validates, applies to a tun and a tap device, and the kernel holds its rate. */
class ProfileLibraryKernelTest {
    static Stream<Path> profiles() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("profiles"))) {
            return s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList().stream();
        }
    }

    @Test
    void theLibraryCoversTheLinksItPromises() throws IOException {
        List<String> names = profiles().map(p -> p.getFileName().toString()).toList();
        assertTrue(names.size() >= 12, names.toString());
        for (String kind : new String[] {"acoustic", "ax25-1200", "ax25-9600", "lora", "slip", "iridium", "inmarsat",
            "manet", "10mbit", "100mbit", "1gbit"}) {
            assertTrue(names.stream().anyMatch(n -> n.contains(kind)), kind + " in " + names);
        }
        ProfileLoader loader = new ProfileLoader(List.of(Path.of("profiles")), new Planner(Psched.DEFAULT, 212992));
        for (Path p : profiles().toList()) {
            Profile prof = loader.loadFile(p);
            assertFalse(prof.source().isBlank(), p + " has a source");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("profiles")
    void appliesToTunAndTapAndTheKernelHoldsItsRate(Path file) {
        CliRun v = CliRun.of("profiles", "validate", file.toString());
        assertEquals(0, v.status(), v.toString());
        ProfileLoader loader = new ProfileLoader(List.of(Path.of("profiles")), new Planner(Psched.DEFAULT, 212992));
        Profile p = loader.loadFile(file);
        long rateBytes = p.link().rate().bytesPerSecond();
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0").tap("p0");
            CliRun r = CliRun.of("--netns", ns.name(), "--json", "apply", "t0", "p0", "-p", file.toString());
            assertEquals(0, r.status(), r.toString());
            for (String dev : new String[] {"t0", "p0"}) {
                if (p.shaping().qdisc().equals("tbf")) {
                    JsonNode q = readJson(ns.tc("-j", "qdisc", "show", "dev", dev)).get(0);
                    assertEquals("tbf", q.get("kind").asText());
                    assertEquals(rateBytes, q.get("options").get("rate").asLong(), dev + " " + q);
                } else {
                    // tc 6.1 has no JSON for htb classes: read its text
                    String classes = ns.tc("class", "show", "dev", dev);
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("class htb 7474:1 root .*?rate (\\S+)")
                            .matcher(classes);
                    assertTrue(m.find(), classes);
                    assertEquals(rateBytes, Units.parseRate(m.group(1)).bytesPerSecond(), dev + ": " + classes);
                    assertEquals(p.shaping().classes().size() + (p.shaping().classes().isEmpty() ? 0 : 1),
                            classes.lines().count(), classes);
                    String filters = ns.tc("filter", "show", "dev", dev);
                    long withMatch = p.shaping().classes().stream().filter(c -> c.match() != null).count();
                    assertEquals(2 * withMatch, filters.lines().filter(l -> l.contains("flowid")).count(), filters);
                }
            }
            CliRun again = CliRun.of("--netns", ns.name(), "--json", "apply", "t0", "p0", "-p", file.toString());
            assertFalse(readJson(again.out()).get("changed").asBoolean(), "idempotent: " + again.out());
        }
    }
}
