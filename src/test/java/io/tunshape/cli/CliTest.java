package io.tunshape.cli;

import io.tunshape.testing.CliRun;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line without the kernel: help, version, usage errors. */
class CliTest {
    @Test
    void helpListsCommandsAndExitStatus() {
        CliRun r = CliRun.of("--help");
        assertEquals(0, r.status());
        for (String s : new String[] {"apply", "show", "clear", "--netns", "--json", "Exit status", "CAP_NET_ADMIN"}) {
            assertTrue(r.out().contains(s), s + " in " + r.out());
        }
        CliRun a = CliRun.of("apply", "--help");
        assertEquals(0, a.status());
        assertTrue(a.out().contains("bps/kbps/mbps mean BYTES"), a.out());
    }

    @Test
    void versionComesFromTheBuild() {
        CliRun r = CliRun.of("--version");
        assertEquals(0, r.status());
        assertTrue(r.out().matches("tunshape \\d+\\.\\d+\\.\\d+.*\\n"), r.out());
    }

    @Test
    void usageErrorsExitTwoWithAHint() {
        CliRun r = CliRun.of("apply", "t0");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("--rate: missing") && r.err().contains("--profile"), r.err());
        CliRun unknown = CliRun.of("aply");
        assertEquals(2, unknown.status());
        assertTrue(unknown.err().contains("apply"), "suggests the command: " + unknown.err());
        CliRun mode = CliRun.of("apply", "t0", "--rate", "1mbit", "--mode", "fast");
        assertEquals(2, mode.status());
        assertTrue(mode.err().contains("BACKPRESSURE"), mode.err());
    }

    @Test
    void noCommandPrintsUsage() {
        CliRun r = CliRun.of();
        assertEquals(2, r.status());
        assertTrue(r.out().contains("Usage: tunshape"), r.out());
    }
}
