package io.tunshape.cli;

import io.tunshape.cli.TopModel.Observation;
import io.tunshape.cli.TopModel.Row;
import io.tunshape.cli.TopModel.Sort;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static io.tunshape.cli.TopModel.NONE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** top's arithmetic and drawing on made-up observations: no kernel, no terminal. */
class TopScreenTest {
    private static Observation obs(String dev, long rate, long backlog, long qdrops, long tundrops, long txBytes) {
        return new Observation("lab", dev, "tun", "tbf", rate, NONE, backlog, backlog / 1000, qdrops, tundrops, txBytes,
                dev.endsWith("1") ? "on" : "off");
    }

    @Test
    void sentRateAndNewDropsComeFromTheCountersBetweenTwoRounds() {
        TopModel m = new TopModel(60);
        m.update(0, List.of(obs("tun0", 1_000_000, 0, 5, 7, 1_000)));
        Row first = m.rows(Sort.NAME, false).get(0);
        assertEquals(NONE, first.sentBps(), "no rate from a single sample");
        m.update(2_000_000_000L, List.of(obs("tun0", 1_000_000, 62_500, 9, 7, 251_000)));
        Row r = m.rows(Sort.NAME, false).get(0);
        assertEquals(1_000_000, r.sentBps(), "250000 bytes in 2 s");
        assertEquals(4, r.qdiscDropsNew());
        assertEquals(0, r.tunDropsNew());
        assertEquals(500, r.backlogMs(), "62500 bytes at 1 Mbit/s");
        // a re-created device starts its counters again: no rate from a counter that went down
        m.update(3_000_000_000L, List.of(obs("tun0", 1_000_000, 0, 0, 0, 10)));
        assertEquals(NONE, m.rows(Sort.NAME, false).get(0).sentBps());
        long[] sent = m.rows(Sort.NAME, false).get(0).history().sent;
        assertEquals(List.of(NONE, 1_000_000L, NONE), List.of(sent[57], sent[58], sent[59]));
    }

    @Test
    void devicesThatDisappearAreForgottenAndSortsOrderTheRows() {
        TopModel m = new TopModel(10);
        m.update(0, List.of(obs("a", 100, 10, 0, 0, 0), obs("b", 300, 0, 9, 0, 0), obs("c", 200, 50, 0, 1, 0)));
        assertEquals(List.of("a", "b", "c"), devs(m.rows(Sort.NAME, false)));
        assertEquals(List.of("b", "c", "a"), devs(m.rows(Sort.RATE, false)));
        assertEquals(List.of("c", "a", "b"), devs(m.rows(Sort.BACKLOG, false)));
        assertEquals(List.of("b", "a", "c"), devs(m.rows(Sort.BACKLOG, true)));
        assertEquals(List.of("b", "c", "a"), devs(m.rows(Sort.DROPS, false)));
        m.update(1_000_000_000L, List.of(obs("c", 200, 0, 0, 1, 0)));
        assertEquals(List.of("c"), devs(m.rows(Sort.NAME, false)));
    }

    private static List<String> devs(List<Row> rows) {
        return rows.stream().map(r -> r.now().dev()).toList();
    }

    @Test
    void sparklinesScaleToTheTopAndLeaveUnknownBlank() {
        assertEquals("▁▅█ ", TopScreen.sparkline(new long[] {0, 50, 100, NONE}, 100, 4, TopScreen.BLOCKS));
        assertEquals("  ▁█", TopScreen.sparkline(new long[] {0, 200}, 100, 4, TopScreen.BLOCKS), "clipped at the top");
        assertEquals("_=#", TopScreen.sparkline(new long[] {0, 50, 100}, 100, 3, TopScreen.ASCII));
        assertEquals("9.60k", TopScreen.bits(9600));
        assertEquals("1.00M", TopScreen.bits(1_000_000));
        assertEquals("972k", TopScreen.bits(972_000));
        assertEquals("13.3M", TopScreen.bits(13_300_000));
        assertEquals("52.4kB", TopScreen.bytes(52_400));
        assertEquals("-", TopScreen.bits(NONE));
    }

    @Test
    void aFrameFitsTheTerminalAndSaysWhatDoesNotFit() {
        TopModel m = new TopModel(60);
        List<Observation> many = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            many.add(obs("tun" + i, 1_000_000, i * 1000L, 0, 0, 0));
        }
        m.update(0, many);
        m.update(1_000_000_000L, many);
        TopScreen.Header h = new TopScreen.Header("12:00:00", 1_000_000, List.of("lab"), "none", Sort.NAME, false,
                List.of(), true);
        List<String> frame = TopScreen.render(h, m.rows(Sort.NAME, false), 80, 24);
        assertEquals(24, frame.size(), String.join("\n", frame));
        assertTrue(frame.stream().allMatch(l -> l.length() <= 80), String.join("\n", frame));
        assertTrue(frame.get(frame.size() - 1).startsWith("... "), "the rows that do not fit are counted: " + frame);

        List<String> big = TopScreen.render(h, m.rows(Sort.NAME, false).subList(0, 2), 120, 40);
        assertTrue(big.stream().anyMatch(l -> l.startsWith("lab/tun0: the last 60s")), String.join("\n", big));
        assertTrue(big.stream().anyMatch(l -> l.startsWith("  backlog ")), String.join("\n", big));
        String header = big.stream().filter(l -> l.startsWith("DEVICE")).findFirst().orElseThrow();
        assertTrue(header.endsWith("KERNEL FC"), header);
        assertTrue(big.stream().anyMatch(l -> l.startsWith("lab/tun0 ") && l.endsWith(" off")), String.join("\n", big));
        assertTrue(big.stream().anyMatch(l -> l.startsWith("lab/tun1 ") && l.endsWith(" on")), String.join("\n", big));
    }
}
