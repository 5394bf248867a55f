package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.plot.SvgFigureTest;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import io.tunshape.testing.PumpProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `tunshape demo` shows the drop without shaping and none with it, and leaves nothing behind. */
class DemoKernelTest {
    @Test
    void demoShowsTheProblemAndTheFix(@TempDir Path dir) throws Exception {
        KernelNs.requireRoot();
        String linksBefore = KernelNs.run("ip", "-o", "link", "show");
        long t0 = System.nanoTime();
        Path svg = dir.resolve("demo.svg");
        CliRun r = CliRun.of("--json", "demo", "--seconds", "2", "--plot", svg.toString());
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
        // the third row: where the kernel offers IFF_BACKPRESSURE, kernel flow control behind tunshape's queue
        // with no rate (the reader paces it) loses nothing; elsewhere one line says what it needs
        boolean offered = (io.tunshape.tun.TunDevice.features() & io.tunshape.tun.TunDevice.IFF_BACKPRESSURE) != 0;
        JsonNode fc = readJson(r.out()).get("kernel_flow_control");
        String release = KernelNs.run("uname", "-r").strip();
        assertEquals(offered, fc.get("offered").asBoolean(), fc.toString());
        assertEquals(release, fc.get("kernel").asText(), fc.toString());
        assertEquals(offered ? 3 : 2, rows.size(), rows.toString());
        assertFalse(plain.get("kernel_flow_control").asBoolean() || shaped.get("kernel_flow_control").asBoolean());
        if (offered) {
            JsonNode third = rows.get(2);
            assertTrue(third.get("kernel_flow_control").asBoolean(), third.toString());
            assertTrue(third.get("qdisc").asText().startsWith("kernel flow control, tunshape's queue, no rate"),
                    third.toString());
            assertEquals(0, third.get("dropped_at_tun").asLong(), third.toString());
            assertEquals(0, third.get("dropped_in_qdisc").asLong(), third.toString());
            assertEquals(third.get("sent").asLong(), third.get("delivered").asLong(), "nothing lost: " + third);
            assertTrue(third.get("goodput_bps").asLong() > 900_000, third.toString());
            assertTrue(fc.get("note").isNull(), fc.toString());
        } else {
            assertEquals("a third row, kernel flow control with tunshape's queue and no exact rate, needs Linux 7.3's "
                    + "IFF_BACKPRESSURE (not offered by this kernel: " + release + ")", fc.get("note").asText());
        }
        assertTrue(took < (offered ? 40 : 30), "the demo took " + took + " s");
        assertEquals(linksBefore, KernelNs.run("ip", "-o", "link", "show"), "nothing left in this namespace");

        // progress through each row, a line a second on a stream that is no terminal
        for (String row : new String[] {"row 1 of 2: 1.", "row 2 of 2: 1.", "row 1 of 2: sender done"}) {
            assertTrue(r.err().contains(row), "no progress line '" + row + "': " + r.err());
        }
        // the figure: both rows' delivered rate over time, and their drops with the totals of the table
        Map<String, List<double[]>> series = SvgFigureTest.series(SvgFigureTest.parse(Files.readString(svg)));
        assertTrue(series.keySet().stream().anyMatch(k -> k.startsWith("row 1: kernel default")), series.keySet().toString());
        assertTrue(series.keySet().stream().anyMatch(k -> k.startsWith("row 2: tunshape backpressure")),
                series.keySet().toString());
        for (Map.Entry<String, List<double[]>> e : series.entrySet()) {
            if (e.getKey().startsWith("row ") && e.getKey().contains(": ") && !e.getKey().contains("the qdisc")) {
                assertTrue(e.getValue().size() >= 20, e.getKey() + " has " + e.getValue().size()
                        + " points; the rows last over 2 s, sampled every 100 ms");
            }
        }
        assertTrue(series.containsKey(String.format(java.util.Locale.ROOT, "row 1 at tun: %,d",
                plain.get("dropped_at_tun").asLong())), series.keySet().toString());
        assertTrue(series.containsKey("row 2 at tun: 0"), series.keySet().toString());
        assertTrue(series.containsKey("the backend's rate"), series.keySet().toString());
    }

    @Test
    void theTableSaysWhatTheThirdRowNeedsWhereTheKernelDoesNotOfferTheFlag() throws Exception {
        KernelNs.requireRoot();
        boolean offered = (io.tunshape.tun.TunDevice.features() & io.tunshape.tun.TunDevice.IFF_BACKPRESSURE) != 0;
        CliRun r = CliRun.of("demo", "--seconds", "1");
        assertEquals(0, r.status(), r.toString());
        String line = "A third row, kernel flow control with tunshape's queue and no exact rate, needs Linux 7.3's "
                + "IFF_BACKPRESSURE (not offered by this kernel: " + KernelNs.run("uname", "-r").strip() + ").";
        assertEquals(!offered, r.out().lines().anyMatch(line::equals), r.out());
        assertEquals(offered, r.out().lines().anyMatch(l -> l.startsWith("| kernel flow control, tunshape's queue")),
                r.out());
        assertEquals(offered ? 3 : 2, r.out().lines().filter(l -> l.startsWith("| ") && !l.startsWith("| tun0 root")
                && !l.startsWith("| -")).count(), r.out());
    }

    @Test
    void aPlotFileThatCannotBeWrittenIsRefusedBeforeAnything() {
        CliRun r = CliRun.of("demo", "--plot", "/nonexistent-tunshape-dir/demo.svg");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("--plot") && r.err().contains("/nonexistent-tunshape-dir"), r.toString());
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
