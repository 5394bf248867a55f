package io.tunshape.packaging;

import io.tunshape.plot.SvgFigureTest;
import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * bench/adapt-trace.sh, shortened to 4 s per set-up, writes one SVG timeline per set-up with the
 * trace's capacity, the shaping rate (when something shapes), the qdisc's backlog and the waits.
 * An integration test: the script runs the built jar (bin/tunshape), which exists after `package`.
 * It needs root and python3 (the script's sender and sampler).
 */
class AdaptTraceFiguresIT {
    @Test
    void eachSetUpGetsATimelineWithItsSeries(@TempDir Path dir) throws Exception {
        KernelNs.requireRoot();
        assertTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "the bench needs /usr/bin/python3");
        Path trace = dir.resolve("steps.up");
        // a made-up trace: 1 Mbit/s (an opportunity every 12 ms), and 2.4 Mbit/s (every 5 ms) from 2 s on
        StringBuilder t = new StringBuilder();
        for (int ms = 12; ms <= 2000; ms += 12) {
            t.append(ms).append('\n');
        }
        for (int ms = 2005; ms <= 6000; ms += 5) {
            t.append(ms).append('\n');
        }
        Files.writeString(trace, t);
        Path figs = dir.resolve("figs");
        ProcessBuilder pb = new ProcessBuilder("bash", "bench/adapt-trace.sh", trace.toString(), "4")
                .redirectErrorStream(true);
        pb.environment().put("FIGS", figs.toString());
        pb.environment().put("ROWS", "adaptive none");
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the bench did not finish in 120 s");
        String log = new String(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), log);
        assertTrue(log.contains("adapt-trace: row 1 of 2: daemon, adaptive") && log.contains("row 2 of 2: no shaping"),
                "progress per row: " + log);

        Map<String, List<double[]>> adaptive = SvgFigureTest.series(SvgFigureTest.parse(
                Files.readString(figs.resolve("steps-adaptive.svg"))));
        assertEquals(List.of("trace capacity (200 ms)", "shaping rate", "root qdisc backlog",
                "each datagram, send to receiver", "in the qdisc (per 5 ms of arrivals)"), List.copyOf(adaptive.keySet()),
                log);
        assertTrue(adaptive.get("trace capacity (200 ms)").size() >= 15, "the run in 200 ms steps: " + log);
        assertTrue(adaptive.get("shaping rate").size() >= 20, "the rate sampled every 50 ms: " + log);
        assertTrue(adaptive.get("root qdisc backlog").size() >= 100, log);
        assertTrue(adaptive.get("each datagram, send to receiver").size() >= 100, log);

        Map<String, List<double[]>> none = SvgFigureTest.series(SvgFigureTest.parse(
                Files.readString(figs.resolve("steps-none.svg"))));
        assertTrue(!none.containsKey("shaping rate"), "nothing shapes without shaping: " + none.keySet());
        assertTrue(none.get("each datagram, send to receiver").size() >= 100, log);
    }
}
