package io.tunshape.cli;

import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The committed man pages match the commands, and mandoc finds nothing to say about them. */
class ManPageTest {
    @Test
    void committedPageMatchesTheCommandModel() throws IOException {
        String committed = Files.readString(Path.of("man/tunshape.8"));
        assertEquals(ManPage.render(), committed, "man/tunshape.8 is stale: regenerate it with "
                + "'java -cp target/tunshape.jar io.tunshape.cli.ManPage man'");
    }

    @Test
    void pageCoversEveryCommandAndExitStatus() {
        String page = ManPage.render();
        for (String s : new String[] {".SS apply", ".SS show", ".SS clear", ".SS profiles list", ".SH EXIT STATUS",
            "\\-\\-netns", "\\-\\-profile", ".SH PHYSICS"}) {
            assertTrue(page.contains(s), s);
        }
    }

    @Test
    void mandocLintIsClean() {
        boolean ci = "true".equals(System.getenv("CI"));
        KernelNs.Exec which = KernelNs.exec("sh", "-c", "command -v mandoc");
        if (which.status() != 0) {
            if (ci) {
                Assertions.fail("mandoc is not installed; .ci/run installs it");
            }
            Assumptions.abort("skipped: mandoc is not installed (apt-get install mandoc)");
        }
        for (String page : new String[] {"man/tunshape.8", "man/tunshape-profile.5", "man/tunshape-report.7",
            "man/tunshape.yaml.5"}) {
            KernelNs.Exec r = KernelNs.exec("mandoc", "-T", "lint", "-W", "style", page);
            assertEquals(0, r.status(), page + ": " + r.output());
            assertEquals("", r.output().trim(), page);
        }
    }
}
