package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import io.tunshape.testing.PumpProcess;
import org.junit.jupiter.api.Test;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `tunshape demo` shows the drop without shaping and none with it, and leaves nothing behind. */
class DemoKernelTest {
    @Test
    void demoShowsTheProblemAndTheFix() {
        KernelNs.requireRoot();
        String linksBefore = KernelNs.run("ip", "-o", "link", "show");
        long t0 = System.nanoTime();
        CliRun r = CliRun.of("--json", "demo", "--seconds", "2");
        double took = (System.nanoTime() - t0) / 1e9;
        assertEquals(0, r.status(), r.toString());
        JsonNode rows = readJson(r.out()).get("rows");
        JsonNode plain = rows.get(0);
        JsonNode shaped = rows.get(1);
        assertTrue(plain.get("dropped_at_tun").asLong() > 1000, "tun drops in bulk without shaping: " + plain);
        assertTrue(plain.get("sent").asLong() > 10 * plain.get("delivered").asLong(), plain.toString());
        assertEquals(0, shaped.get("dropped_at_tun").asLong(), shaped.toString());
        assertEquals(0, shaped.get("dropped_in_qdisc").asLong(), shaped.toString());
        assertEquals(shaped.get("sent").asLong(), shaped.get("delivered").asLong(), "nothing lost: " + shaped);
        assertTrue(shaped.get("sender_blocked_us").asLong() > 1_000_000, "the sender was held back: " + shaped);
        assertTrue(shaped.get("goodput_bps").asLong() > 900_000, shaped.toString());
        assertTrue(took < 30, "the demo took " + took + " s");
        assertEquals(linksBefore, KernelNs.run("ip", "-o", "link", "show"), "nothing left in this namespace");
    }

    @Test
    void ctrlCEndsTheDemoCleanly() throws Exception {
        KernelNs.requireRoot();
        try (PumpProcess demo = new PumpProcess("demo", "--seconds", "10")) {
            assertTrue(demo.await("row 1", 15_000), demo.lines().toString());
            Thread.sleep(500);
            long t0 = System.nanoTime();
            int status = demo.stop(); // SIGTERM
            assertEquals(0, status, demo.lines().toString());
            assertTrue((System.nanoTime() - t0) / 1e9 < 10, "it stopped promptly");
            assertFalse(KernelNs.run("ip", "-o", "link", "show").contains("tun0"), "no tun0 left behind");
        }
    }
}
