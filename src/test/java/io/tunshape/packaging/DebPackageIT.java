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
import java.util.Map;
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
 * unpackaged /usr/bin/tunshape is already there, rather than clobber and then purge it.
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
                    "/usr/share/bash-completion/completions/tunshape", "/usr/share/man/man8/tunshape.8.gz")) {
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
