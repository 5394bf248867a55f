package io.tunshape.plot;

import io.tunshape.plot.SvgFigure.Panel;
import io.tunshape.plot.SvgFigure.Series;
import io.tunshape.plot.SvgFigure.Style;
import io.tunshape.plot.SvgFigure.Unit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * bench/adapt-trace.sh's timeline of one set-up: the trace's capacity against the shaping rate, the
 * qdisc's backlog, and the waits (each datagram's from send to the receiver, and the qdisc's per
 * sampling step). Reads the series bench/adapt-trace.py writes, one "NAME SECONDS VALUE" line each
 * ('#' lines are comments).
 *
 * <p>Usage: {@code java -cp target/tunshape.jar io.tunshape.plot.TraceFigure SERIES OUT.svg TITLE [SUBTITLE]}
 */
public final class TraceFigure {
    private TraceFigure() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 3) {
            System.err.println("usage: TraceFigure SERIES OUT.svg TITLE [SUBTITLE]");
            System.exit(2);
        }
        Map<String, List<double[]>> series = read(Path.of(args[0]));
        SvgFigure.write(Path.of(args[1]), args[2], args.length > 3 ? args[3] : null, panels(series));
    }

    static Map<String, List<double[]>> read(Path file) throws IOException {
        Map<String, List<double[]>> out = new LinkedHashMap<>();
        int n = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            n++;
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.trim().split("\\s+");
            if (f.length != 3) {
                throw new IOException(file + ":" + n + ": expected 'NAME SECONDS VALUE', got: " + line);
            }
            try {
                out.computeIfAbsent(f[0], k -> new ArrayList<>())
                        .add(new double[] {Double.parseDouble(f[1]), Double.parseDouble(f[2])});
            } catch (NumberFormatException e) {
                throw new IOException(file + ":" + n + ": not a number: " + line);
            }
        }
        return out;
    }

    static List<Panel> panels(Map<String, List<double[]>> s) {
        List<Series> rates = new ArrayList<>();
        rates.add(series("trace capacity (200 ms)", "#9a9a9a", Style.STEP, s.get("capacity")));
        if (s.containsKey("rate")) {
            rates.add(series("shaping rate", "#1f77b4", Style.STEP, s.get("rate")));
        }
        List<Series> waits = new ArrayList<>();
        waits.add(series("each datagram, send to receiver", "#ff7f0e", Style.DOTS, s.get("packet_wait")));
        waits.add(series("in the qdisc (per 5 ms of arrivals)", "#2ca02c", Style.LINE, s.get("qdisc_wait")));
        return List.of(new Panel("Shaping rate against the trace's capacity", Unit.BITS_PER_SECOND, rates),
                new Panel("Qdisc backlog", Unit.BYTES,
                        List.of(series("root qdisc backlog", "#9467bd", Style.LINE, s.get("backlog")))),
                new Panel("Wait", Unit.SECONDS, waits));
    }

    private static Series series(String name, String color, Style style, List<double[]> points) {
        List<double[]> p = points == null ? List.of() : points;
        double[] x = new double[p.size()];
        double[] y = new double[p.size()];
        for (int i = 0; i < p.size(); i++) {
            x[i] = p.get(i)[0];
            y[i] = p.get(i)[1];
        }
        return new Series(name, color, style, x, y);
    }
}
