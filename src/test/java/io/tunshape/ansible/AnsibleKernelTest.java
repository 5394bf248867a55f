package io.tunshape.ansible;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Ansible module tunshape.net.tunshape (src/ansible) run by the real ansible-playbook against
 * localhost, shaping a tap device in a throwaway namespace. The module runs the CLI from the test
 * classpath through a wrapper script (its `executable` option), so no jar is needed. Each step is
 * one playbook run whose registered result is written to a file; the kernel is read back with tc.
 */
class AnsibleKernelTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path COLLECTIONS = Path.of(System.getProperty("user.dir"), "src", "ansible");
    private static final Path COLLECTION = COLLECTIONS.resolve("ansible_collections/tunshape/net");

    /** The sanity tests that run offline with ansible-core alone (the others download their linters). */
    private static final List<String> OFFLINE_SANITY = List.of("compile", "shebang", "line-endings",
            "no-smart-quotes", "empty-init", "future-import-boilerplate", "metaclass-boilerplate", "no-assert",
            "no-basestring", "no-dict-iteritems", "no-dict-iterkeys", "no-dict-itervalues", "no-get-exception",
            "no-illegal-filenames", "no-main-display", "no-unicode-literals", "replace-urlopen",
            "use-argspec-type-path", "use-compat-six", "symlinks", "action-plugin-docs", "ignores");

    @TempDir
    Path tmp;

    private int steps;

    private record Run(int status, String output) {
    }

    /** One playbook run: the ansible-playbook status and output, and the task's registered result. */
    private record Step(Run run, JsonNode result) {
        boolean changed() {
            return result.path("changed").asBoolean(false);
        }

        boolean failed() {
            return result.path("failed").asBoolean(false);
        }
    }

    private static void requireTool(String tool) {
        boolean found = Stream.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
                .filter(d -> !d.isEmpty())
                .anyMatch(d -> Files.isExecutable(Path.of(d, tool)));
        String why = tool + " is not on the PATH (Debian 12: apt-get install ansible-core)";
        if ("true".equals(System.getenv("CI"))) {
            Assertions.assertTrue(found, why + "; under CI=true the Ansible tests must run, not skip");
        } else if (!found) {
            Assumptions.abort("skipped: " + why);
        }
    }

    private static String shQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /** A stand-in for the installed `tunshape`: the CLI from the test classpath. */
    private Path wrapper() throws IOException {
        Path w = tmp.resolve("tunshape");
        if (!Files.exists(w)) {
            Files.writeString(w, "#!/bin/sh\nexec " + shQuote(System.getProperty("java.home") + "/bin/java")
                    + " -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp " + shQuote(System.getProperty("java.class.path"))
                    + " io.tunshape.cli.Main \"$@\"\n");
            Files.setPosixFilePermissions(w, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        return w;
    }

    private Run run(List<String> cmd, Path dir, Map<String, String> env, int timeoutSeconds) throws Exception {
        Path out = Files.createTempFile(tmp, "out", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(out.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + String.join(" ", cmd) + "\n" + Files.readString(out));
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    }

    /** Ansible confined to the temp dir: no user or system config, only this repository's collection. */
    private Map<String, String> ansibleEnv() throws IOException {
        Path cfg = tmp.resolve("ansible.cfg");
        if (!Files.exists(cfg)) {
            Files.writeString(cfg, "[defaults]\n");
        }
        Map<String, String> env = new LinkedHashMap<>();
        env.put("ANSIBLE_CONFIG", cfg.toString());
        env.put("ANSIBLE_COLLECTIONS_PATH", COLLECTIONS.toString());
        env.put("ANSIBLE_COLLECTIONS_SCAN_SYS_PATH", "false");
        env.put("ANSIBLE_HOME", tmp.resolve("ansible-home").toString());
        env.put("ANSIBLE_LOCAL_TEMP", tmp.resolve("ansible-local").toString());
        env.put("ANSIBLE_REMOTE_TEMP", tmp.resolve("ansible-remote").toString());
        env.put("ANSIBLE_NOCOLOR", "1");
        env.put("ANSIBLE_LOCALHOST_WARNING", "false");
        env.put("ANSIBLE_INVENTORY_UNPARSED_WARNING", "false");
        env.put("ANSIBLE_RETRY_FILES_ENABLED", "false");
        return env;
    }

    /**
     * Runs the module once in a playbook against localhost (connection local) and returns what the
     * task registered; the task may fail (ignore_errors), so its failure is a result too.
     */
    private Step play(Map<String, Object> args, String... flags) throws Exception {
        int n = ++steps;
        ObjectNode a = JSON.createObjectNode();
        args.forEach((k, v) -> a.set(k, JSON.valueToTree(v)));
        a.put("executable", wrapper().toString());
        Path resultFile = tmp.resolve("result-" + n + ".json");
        String playbook = String.join("\n",
                "- hosts: localhost",
                "  connection: local",
                "  gather_facts: false",
                "  tasks:",
                "    - name: step " + n,
                "      tunshape.net.tunshape: " + JSON.writeValueAsString(a),
                "      register: shaped",
                "      ignore_errors: true",
                "    - name: keep the registered result for the test",
                "      ansible.builtin.copy:",
                "        content: \"{{ shaped | to_nice_json }}\"",
                "        dest: " + JSON.writeValueAsString(resultFile.toString()),
                "      check_mode: false",
                "      diff: false",
                "      changed_when: false",
                "");
        Path file = tmp.resolve("step-" + n + ".yml");
        Files.writeString(file, playbook);
        List<String> cmd = new ArrayList<>(List.of("ansible-playbook", file.toString()));
        cmd.addAll(List.of(flags));
        Run r = run(cmd, tmp, ansibleEnv(), 300);
        assertEquals(0, r.status(), "ansible-playbook " + String.join(" ", flags) + "\n" + playbook + "\n" + r.output());
        assertTrue(Files.exists(resultFile), r.output());
        return new Step(r, JSON.readTree(resultFile.toFile()));
    }

    private static Map<String, Object> args(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    private static String why(Step s) {
        return s.result().toPrettyString() + "\n" + s.run().output();
    }

    @Test
    void checkModeChangesNothingThenApplyIsIdempotentARateChangeShowsItsDiffAndClearIsIdempotent() throws Exception {
        requireTool("ansible-playbook");
        try (KernelNs ns = KernelNs.create()) {
            ns.tap("tap0");
            Map<String, Object> at1mbit = args("interface", "tap0", "netns", ns.name(), "rate", "1mbit");

            Step check = play(at1mbit, "--check");
            assertTrue(check.changed() && !check.failed(), why(check));
            assertTrue(check.result().at("/command").toString().contains("\"--dry-run\""), why(check));
            assertEquals(1_000_000, check.result().at("/results/0/after/rate_bps").asLong(), why(check));
            assertFalse(ns.tc("qdisc", "show", "dev", "tap0").contains("7473:"), "check mode must not touch the kernel");

            Step apply = play(at1mbit);
            assertTrue(apply.changed() && !apply.failed(), why(apply));
            assertTrue(apply.result().at("/results/0/before").isNull(), why(apply));
            String kernel = ns.tc("qdisc", "show", "dev", "tap0");
            assertTrue(kernel.contains("tbf 7473: root") && kernel.contains("rate 1Mbit"), kernel);

            Step again = play(at1mbit);
            assertFalse(again.changed() || again.failed(), "a second identical run must report changed=false\n" + why(again));
            assertTrue(again.run().output().contains("ok: [localhost]") && again.run().output().contains("changed=0"),
                    again.run().output());

            Step faster = play(args("interface", "tap0", "netns", ns.name(), "rate", "2mbit"), "--diff");
            assertTrue(faster.changed() && !faster.failed(), why(faster));
            String before = faster.result().at("/diff/before").asText();
            String after = faster.result().at("/diff/after").asText();
            assertTrue(before.contains("\"rate_bps\": 1000000") && after.contains("\"rate_bps\": 2000000"),
                    before + "\n" + after);
            // what --diff prints under the task: the old rate removed, the new one added
            assertTrue(faster.run().output().contains("-      \"rate_bps\": 1000000")
                    && faster.run().output().contains("+      \"rate_bps\": 2000000"), faster.run().output());
            assertTrue(ns.tc("qdisc", "show", "dev", "tap0").contains("rate 2Mbit"));

            Map<String, Object> absent = args("interface", "tap0", "netns", ns.name(), "state", "absent");
            Step clear = play(absent, "--diff");
            assertTrue(clear.changed() && !clear.failed(), why(clear));
            assertTrue(clear.result().at("/command").toString().contains("\"clear\""), why(clear));
            assertTrue(clear.result().at("/results/0/after").isNull(), why(clear));
            assertFalse(ns.tc("qdisc", "show", "dev", "tap0").contains("7473:"));

            Step clearAgain = play(absent);
            assertFalse(clearAgain.changed() || clearAgain.failed(), why(clearAgain));
        }
    }

    @Test
    void badProfileFailsTheTaskWithTunshapesOwnMessageAndExitStatusAndChangesNothing() throws Exception {
        requireTool("ansible-playbook");
        try (KernelNs ns = KernelNs.create()) {
            ns.tap("tap0");
            Path bad = tmp.resolve("bad-link.yaml");
            Files.writeString(bad, "name: bad-link\nrate: fast\n");

            Step s = play(args("interface", "tap0", "netns", ns.name(), "profile", bad.toString()));
            assertTrue(s.failed() && !s.changed(), why(s));
            assertEquals(2, s.result().path("rc").asInt(), why(s));
            // the message is the CLI's own, word for word
            KernelNs.Exec direct = KernelNs.exec(wrapper().toString(), "--json", "--netns", ns.name(), "apply", "tap0",
                    "--profile", bad.toString());
            assertEquals(2, direct.status(), direct.output());
            assertEquals(direct.output().strip(), s.result().path("msg").asText(), why(s));
            assertTrue(s.result().path("msg").asText().startsWith("tunshape: " + bad + ":2:1: unknown key 'rate'"), why(s));
            assertFalse(ns.tc("qdisc", "show", "dev", "tap0").contains("7473:"));

            Step missing = play(args("interface", "tap9", "netns", ns.name(), "rate", "1mbit"));
            assertTrue(missing.failed(), why(missing));
            assertEquals(3, missing.result().path("rc").asInt(), why(missing));
            assertTrue(missing.result().path("msg").asText().startsWith("tunshape: no interface 'tap9'"), why(missing));

            // option rules are Ansible's: the tool never runs
            Step both = play(args("interface", "tap0", "netns", ns.name(), "profile", "ax25-9600-g3ruh", "rate", "1mbit"));
            assertTrue(both.failed() && both.result().path("msg").asText().contains("mutually exclusive"), why(both));
            Step neither = play(args("interface", "tap0", "netns", ns.name()));
            assertTrue(neither.failed() && neither.result().path("msg").asText().contains("profile, rate"), why(neither));
            assertFalse(ns.tc("qdisc", "show", "dev", "tap0").contains("7473:"));
        }
    }

    @Test
    void profileByNameShapesEveryTapDeviceOfAGlobAndTunshapesWarningsBecomeAnsibleWarnings() throws Exception {
        requireTool("ansible-playbook");
        try (KernelNs ns = KernelNs.create()) {
            ns.tap("tap0").tap("tap1").tun("tun0");
            Map<String, Object> fleet = args("interface", "tap*", "netns", ns.name(), "profile", "ax25-9600-g3ruh");

            Step s = play(fleet, "--diff");
            assertTrue(s.changed() && !s.failed(), why(s));
            assertEquals(2, s.result().path("results").size(), why(s));
            for (String dev : List.of("tap0", "tap1")) {
                String kernel = ns.tc("qdisc", "show", "dev", dev);
                assertTrue(kernel.contains("tbf 7473: root") && kernel.contains("rate 9600bit"), dev + ": " + kernel);
            }
            assertFalse(ns.tc("qdisc", "show", "dev", "tun0").contains("7473:"), "tun0 does not match 'tap*'");
            // the profile is for mtu 256 and the taps have 1500: tunshape warns, Ansible shows it per device
            String warnings = s.result().path("warnings").toString();
            assertTrue(warnings.contains("tap0: the profile is for mtu 256")
                    && warnings.contains("tap1: the profile is for mtu 256"), why(s));
            assertTrue(s.run().output().contains("[WARNING]: tap0: the profile is for mtu 256"), s.run().output());

            Step again = play(fleet);
            assertFalse(again.changed() || again.failed(), why(again));
        }
    }

    @Test
    void offlineSanityTestsPass() throws Exception {
        requireTool("ansible-test");
        // a copy, so ansible-test's tests/output lands in the temp dir and git plays no part in listing files
        Path copy = tmp.resolve("sanity/ansible_collections/tunshape/net");
        try (Stream<Path> files = Files.walk(COLLECTION)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path rel = COLLECTION.relativize(f);
                if (rel.startsWith("tests/output")) {
                    continue;
                }
                Path to = copy.resolve(rel.toString());
                try {
                    if (Files.isDirectory(f)) {
                        Files.createDirectories(to);
                    } else {
                        Files.copy(f, to);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
        // the controller's Python (3.11 on Debian 12): the one ansible-test runs on, so nothing is missing
        Run py = run(List.of("python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"), tmp, Map.of(), 60);
        assertEquals(0, py.status(), py.output());
        List<String> cmd = new ArrayList<>(List.of("ansible-test", "sanity", "--python", py.output().strip()));
        OFFLINE_SANITY.forEach(t -> cmd.addAll(List.of("--test", t)));
        Run r = run(cmd, copy, Map.of(), 600);
        assertEquals(0, r.status(), String.join(" ", cmd) + "\n" + r.output());
        for (String t : List.of("compile", "shebang", "line-endings", "no-smart-quotes", "empty-init",
                "future-import-boilerplate")) {
            assertTrue(r.output().contains("Running sanity test \"" + t + "\""), t + " did not run\n" + r.output());
        }
    }
}
