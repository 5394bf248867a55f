package io.tunshape.packaging;

import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Installs the .deb that `mvn package` built (target/tunshape_VERSION_all.deb) with dpkg, runs the
 * installed /usr/bin/tunshape, checks what the package holds, and purges it, always.
 *
 * <p>An integration test (maven-failsafe-plugin, `mvn verify`): the .deb only exists after the
 * package phase, which comes after surefire's test phase. It needs root and dpkg: skipped without
 * them, except under CI=true, where it fails. It refuses to run where a tunshape package or an
 * unpackaged /usr/bin/tunshape is already there, rather than clobber and then purge it. It also
 * reads the installed copyright file as DEP-5 and checks it against the jar it ships with.
 */
class DebPackageIT {
    private static final String PKG = "tunshape";
    private static final String VERSION = System.getProperty("tunshape.version", "0.1.0");
    private static final Path DEB = Path.of(System.getProperty("tunshape.deb.dir", "target"),
            PKG + "_" + VERSION + "_all.deb");

    /** Everything the package must list; the man pages are gzipped. */
    private static final List<String> SHIPPED = List.of(
            "/usr/bin/tunshape",
            "/usr/share/tunshape/tunshape.jar",
            "/usr/share/tunshape/profiles/ax25-9600-g3ruh.yaml",
            "/usr/share/man/man8/tunshape.8.gz",
            "/usr/share/man/man5/tunshape-profile.5.gz",
            "/usr/share/man/man5/tunshape.yaml.5.gz",
            "/usr/share/man/man7/tunshape-report.7.gz",
            "/usr/share/bash-completion/completions/tunshape",
            "/lib/systemd/system/tunshape.service",
            "/lib/systemd/system/tunshape-apply@.service",
            "/usr/share/doc/tunshape/copyright",
            "/etc/tunshape/tunshape.yaml");

    record Run(int status, String out) {
        @Override
        public String toString() {
            return "exit " + status + ", output:\n" + out;
        }
    }

    @Test
    void installsRunsAndPurgesCleanly(@TempDir Path work) throws Exception {
        KernelNs.requireRoot();
        boolean dpkg = Files.isExecutable(Path.of("/usr/bin/dpkg"));
        if ("true".equals(System.getenv("CI"))) {
            assertTrue(dpkg, "the .deb test needs dpkg; under CI=true it must run, not skip");
        } else {
            Assumptions.assumeTrue(dpkg, "skipped: the .deb test needs dpkg");
        }
        assertTrue(Files.isRegularFile(DEB), DEB + " is missing: `mvn package` should have built it");
        refuseToClobber();

        boolean installed = false;
        try {
            installed = true; // from here on dpkg may have left something behind: purge it, always
            install();

            Run version = tunshape(work, "--version");
            assertEquals(0, version.status(), version.toString());
            assertTrue(version.out().contains("tunshape " + VERSION), version.toString());

            Run profiles = tunshape(work, "profiles", "list");
            assertEquals(0, profiles.status(), profiles.toString());
            assertTrue(profiles.out().contains("ax25-9600-g3ruh"),
                    "the installed tunshape must find the profiles under /usr/share/tunshape/profiles; " + profiles);

            Run list = run("dpkg", "-L", PKG);
            assertEquals(0, list.status(), list.toString());
            List<String> files = list.out().lines().map(String::strip).toList();
            for (String f : SHIPPED) {
                assertTrue(files.contains(f), "dpkg -L " + PKG + " lacks " + f + "; it lists:\n" + list.out());
            }
            // the man pages may be left out by a dpkg path-exclude (minimal images): all else must be there
            for (String f : SHIPPED) {
                if (!f.startsWith("/usr/share/man/")) {
                    assertTrue(Files.exists(Path.of(f)), f + " was not installed");
                }
            }
            assertTrue(Files.isExecutable(Path.of("/usr/bin/tunshape")), "/usr/bin/tunshape is not executable");

            Run conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", PKG);
            assertTrue(conffiles.out().contains("/etc/tunshape/tunshape.yaml"),
                    "/etc/tunshape/tunshape.yaml must be a conffile; " + conffiles);

            Run depends = run("dpkg-query", "-W", "-f=${Depends}", PKG);
            assertTrue(depends.out().contains("java-runtime-headless (>= 17)"), depends.toString());

            checkCopyright();

            // the completion registers itself for the command
            Run completion = run("bash", "-c",
                    "source /usr/share/bash-completion/completions/tunshape && complete -p tunshape");
            assertEquals(0, completion.status(), "the bash completion does not load; " + completion);

            // systemd accepts both units (checked offline; skipped where systemd is not installed)
            if (Files.isExecutable(Path.of("/usr/bin/systemd-analyze"))) {
                Run verify = run("systemd-analyze", "verify", "/lib/systemd/system/tunshape.service",
                        "/lib/systemd/system/tunshape-apply@tun0.service");
                assertEquals(0, verify.status(), verify.toString());
                assertFalse(verify.out().contains("Unknown"), verify.toString());
            }

            Run purge = run("dpkg", "--purge", PKG);
            installed = false;
            assertEquals(0, purge.status(), purge.toString());
            assertNotInstalled();
            for (String gone : List.of("/usr/bin/tunshape", "/usr/share/tunshape", "/etc/tunshape",
                    "/var/cache/tunshape", "/usr/lib/tunshape",
                    "/lib/systemd/system/tunshape.service", "/lib/systemd/system/tunshape-apply@.service",
                    "/usr/share/bash-completion/completions/tunshape", "/usr/share/man/man8/tunshape.8.gz",
                    "/usr/share/doc/tunshape")) {
                assertFalse(Files.exists(Path.of(gone)), gone + " is still there after dpkg --purge");
            }
        } finally {
            if (installed) {
                Run purge = run("dpkg", "--purge", PKG);
                if (purge.status() != 0) {
                    System.err.println("DebPackageIT: dpkg --purge " + PKG + " failed in cleanup: " + purge);
                }
            }
        }
    }

    /**
     * The installed /usr/share/doc/tunshape/copyright is machine-readable (DEP-5): the format line,
     * a header whose contact is the package's maintainer, Files paragraphs with Copyright and
     * License, a stand-alone License paragraph with text for every licence they name, tunshape's
     * own files under Apache-2.0, and every library the installed jar bundles (its
     * META-INF/maven pom.properties) named with its version.
     */
    private static void checkCopyright() throws Exception {
        Path file = Path.of("/usr/share/doc/tunshape/copyright");
        String text = Files.readString(file, StandardCharsets.UTF_8);
        List<Map<String, String>> paragraphs = Dep5.parse(text);
        Map<String, String> header = paragraphs.get(0);
        assertEquals("https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/", header.get("Format"),
                file + ": the first paragraph must carry the DEP-5 Format URL");
        assertEquals("tunshape", header.get("Upstream-Name"), file + ": Upstream-Name");
        Run maintainer = run("dpkg-query", "-W", "-f=${Maintainer}", PKG);
        assertEquals(maintainer.out().strip(), header.get("Upstream-Contact"),
                file + ": Upstream-Contact should be the package's Maintainer");
        assertFalse(maintainer.out().contains("localhost"), "Maintainer is still a placeholder: " + maintainer);

        Set<String> named = new TreeSet<>();
        Set<String> defined = new TreeSet<>();
        String all = null;
        String jarCopyright = null;
        for (Map<String, String> p : paragraphs.subList(1, paragraphs.size())) {
            String license = p.get("License");
            assertTrue(license != null && !license.isBlank(), file + ": a paragraph without License: " + p);
            String synopsis = license.lines().findFirst().orElse("").strip();
            if (p.containsKey("Files")) {
                assertTrue(p.containsKey("Copyright") && !p.get("Copyright").isBlank(),
                        file + ": Files paragraph without Copyright: " + p);
                for (String name : synopsis.split("\\s+|[()]")) {
                    if (!name.isBlank() && !name.equals("and") && !name.equals("or")) {
                        named.add(name);
                    }
                }
                if (p.get("Files").strip().equals("*")) {
                    all = synopsis;
                }
                if (p.get("Files").contains("usr/share/tunshape/tunshape.jar")) {
                    jarCopyright = p.get("Copyright");
                }
            } else {
                assertTrue(license.lines().count() > 3, file + ": License paragraph " + synopsis + " has no text");
                defined.add(synopsis);
            }
        }
        assertEquals("Apache-2.0", all, file + ": tunshape's own files (Files: *) must be Apache-2.0");
        assertTrue(defined.containsAll(named), file + ": licences named but not given: "
                + named.stream().filter(n -> !defined.contains(n)).toList());
        assertTrue(jarCopyright != null, file + ": no Files paragraph for usr/share/tunshape/tunshape.jar");

        // every library shaded into the jar is accounted for, at the version that is in it
        int libs = 0;
        try (ZipFile jar = new ZipFile("/usr/share/tunshape/tunshape.jar")) {
            for (ZipEntry e : Collections.list(jar.entries())) {
                String name = e.getName();
                if (!name.startsWith("META-INF/maven/") || !name.endsWith("/pom.properties")
                        || name.startsWith("META-INF/maven/io.tunshape/")) {
                    continue;
                }
                Properties props = new Properties();
                try (var in = jar.getInputStream(e)) {
                    props.load(in);
                }
                String artifact = props.getProperty("artifactId", "");
                String version = props.getProperty("version", "");
                assertTrue(jarCopyright.toLowerCase(Locale.ROOT).contains(artifact.toLowerCase(Locale.ROOT))
                                && jarCopyright.contains(" " + version),
                        file + " does not account for " + artifact + " " + version + " in the jar; its Copyright is:\n"
                                + jarCopyright);
                libs++;
            }
            // picocli and JNA ship no pom.properties: known by a class of theirs
            for (var marker : Map.of("picocli/CommandLine.class", "picocli", "com/sun/jna/Native.class", "JNA").entrySet()) {
                if (jar.getEntry(marker.getKey()) != null) {
                    assertTrue(jarCopyright.contains(marker.getValue()), file + " does not account for "
                            + marker.getValue() + ", whose " + marker.getKey() + " is in the jar");
                    libs++;
                }
            }
        }
        assertTrue(libs >= 5, "only " + libs + " bundled libraries found in the jar (picocli, JNA, jackson-core, "
                + "jackson-dataformat-yaml, SnakeYAML expected)");
    }

    /** DEP-5 is deb822: paragraphs split by blank lines, fields "Name: value", continuation lines indented. */
    static final class Dep5 {
        static List<Map<String, String>> parse(String text) {
            List<Map<String, String>> paragraphs = new ArrayList<>();
            Map<String, String> current = new LinkedHashMap<>();
            String field = null;
            int n = 0;
            for (String line : text.split("\n", -1)) {
                n++;
                if (line.isBlank()) {
                    if (!current.isEmpty()) {
                        paragraphs.add(current);
                        current = new LinkedHashMap<>();
                    }
                    field = null;
                } else if (line.startsWith(" ") || line.startsWith("\t")) {
                    assertTrue(field != null, "copyright line " + n + ": a continuation line with no field before it");
                    String more = line.strip();
                    current.merge(field, ".".equals(more) ? "" : more, (a, b) -> a + "\n" + b);
                } else {
                    int colon = line.indexOf(':');
                    assertTrue(colon > 0, "copyright line " + n + ": neither 'Field: value' nor a continuation: " + line);
                    field = line.substring(0, colon);
                    assertFalse(current.containsKey(field), "copyright line " + n + ": " + field + " twice in a paragraph");
                    current.put(field, line.substring(colon + 1).strip());
                }
            }
            if (!current.isEmpty()) {
                paragraphs.add(current);
            }
            assertTrue(paragraphs.size() > 1, "copyright: no paragraphs after the header");
            return paragraphs;
        }
    }

    /** Fails, touching nothing, when a tunshape package (even just its conffiles) or files are present. */
    private static void refuseToClobber() throws Exception {
        Run status = run("dpkg-query", "-W", "-f=${db:Status-Abbrev}", PKG);
        if (status.status() == 0 && !status.out().isBlank() && !status.out().startsWith("un")) {
            fail("a " + PKG + " package is already known to dpkg (status '" + status.out().strip() + "'); "
                    + "this test installs and purges its own: remove it first (dpkg --purge " + PKG + ")");
        }
        for (String p : List.of("/usr/bin/tunshape", "/usr/share/tunshape", "/etc/tunshape")) {
            if (Files.exists(Path.of(p))) {
                fail(p + " exists but no " + PKG + " package is installed; this test would overwrite it "
                        + "and then purge it: move it away first");
            }
        }
    }

    private static void install() throws Exception {
        Run install = run("dpkg", "-i", DEB.toString());
        if (install.status() == 0) {
            return;
        }
        // A Java 17+ that dpkg does not know by package name (a JDK from a tarball or SDKMAN, say) is
        // enough for tunshape: only then, and only for unmet dependencies, configure it regardless.
        if (install.out().contains("dependency problems") && javaOnPathIsAtLeast17()) {
            Run forced = run("dpkg", "--configure", "--force-depends", PKG);
            assertEquals(0, forced.status(), "dpkg -i: " + install + "\ndpkg --configure --force-depends: " + forced);
            return;
        }
        fail("dpkg -i " + DEB + " failed: " + install);
    }

    private static boolean javaOnPathIsAtLeast17() throws Exception {
        Run v = run("java", "-version");
        Matcher m = Pattern.compile("version \"(\\d+)").matcher(v.out());
        return v.status() == 0 && m.find() && Integer.parseInt(m.group(1)) >= 17;
    }

    private static void assertNotInstalled() throws Exception {
        Run status = run("dpkg-query", "-W", "-f=${db:Status-Abbrev}", PKG);
        assertTrue(status.status() != 0 || status.out().isBlank() || status.out().startsWith("un"),
                PKG + " is still known to dpkg after --purge: " + status);
    }

    /** The installed command, from an empty directory (no ./profiles) with no TUNSHAPE_PROFILE_PATH. */
    private static Run tunshape(Path dir, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/tunshape"));
        cmd.addAll(Arrays.asList(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
        Map<String, String> env = pb.environment();
        env.remove("TUNSHAPE_PROFILE_PATH");
        env.remove("TUNSHAPE_JAVA_OPTS");
        env.put("XDG_CONFIG_HOME", dir.resolve("config").toString()); // no ~/.config/tunshape/profiles
        return run(pb);
    }

    private static Run run(String... cmd) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("DEBIAN_FRONTEND", "noninteractive");
        return run(pb);
    }

    private static Run run(ProcessBuilder pb) throws IOException, InterruptedException {
        Process p = pb.redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.PIPE).start();
        p.getOutputStream().close();
        // read while waiting: dpkg's output can outgrow the pipe
        byte[][] out = new byte[1][];
        Thread reader = new Thread(() -> {
            try {
                out[0] = p.getInputStream().readAllBytes();
            } catch (IOException e) {
                out[0] = ("(output unreadable: " + e + ")").getBytes(StandardCharsets.UTF_8);
            }
        });
        reader.start();
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            reader.join(5000);
            Assertions.fail("timed out: " + pb.command());
        }
        reader.join(10000);
        return new Run(p.exitValue(), out[0] == null ? "" : new String(out[0], StandardCharsets.UTF_8));
    }
}
