package io.tunshape.demo;

import io.tunshape.plot.SvgFigure;
import io.tunshape.plot.SvgFigure.Panel;
import io.tunshape.plot.SvgFigure.Series;
import io.tunshape.plot.SvgFigure.Style;
import io.tunshape.plot.SvgFigure.Unit;
import io.tunshape.tc.Rate;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The demonstration's rows (two, or three where the kernel offers flow control) as one figure: the rate the backend got over time (with the
 * backend's own rate for reference) and the packets dropped so far, at tun and in the qdisc, each
 * row against the seconds since its sender started.
 */
public final class DemoFigure {
    /** The delivered rate is taken over this window: a 1 Mbit/s link carries only 12 frames in 100 ms. */
    static final double WINDOW_SECONDS = 0.5;
    private static final String[] COLORS = {"#d62728", "#1f77b4", "#2ca02c"};
    /** The lighter shade of each row's colour, for its drops in the qdisc. */
    private static final String[] LIGHT = {"#ff9896", "#9edae5", "#98df8a"};

    private DemoFigure() {
    }

    public static void write(Path file, List<Demo.Row> rows, Rate rate, double seconds, int payload)
            throws IOException {
        SvgFigure.write(file, "tunshape demo: tun0 behind a " + rate + " backend, one UDP sender",
                payload + "-byte datagrams for " + trim(seconds) + " s per row, default socket buffers; time from each row's start",
                panels(rows, rate));
    }

    static List<Panel> panels(List<Demo.Row> rows, Rate rate) {
        List<Series> delivered = new ArrayList<>();
        List<Series> drops = new ArrayList<>();
        double end = 0;
        for (int r = 0; r < rows.size(); r++) {
            Demo.Row row = rows.get(r);
            List<Demo.Sample> t = row.timeline();
            String color = COLORS[r % COLORS.length];
            // the legend names the row; the parameters are in the table
            int paren = row.qdisc().indexOf(" (");
            String name = "row " + (r + 1) + ": " + (paren > 0 ? row.qdisc().substring(0, paren) : row.qdisc());
            double[] x = new double[t.size()];
            double[] bps = new double[t.size()];
            double[] atTun = new double[t.size()];
            double[] inQdisc = new double[t.size()];
            int from = 0;
            for (int i = 0; i < t.size(); i++) {
                Demo.Sample s = t.get(i);
                x[i] = s.seconds();
                // the window, but never less than the last step: samples farther apart than the window
                // (a starved sender thread) still give the rate between them
                while (from < i - 1 && s.seconds() - t.get(from).seconds() > WINDOW_SECONDS) {
                    from++;
                }
                double dt = s.seconds() - t.get(from).seconds();
                bps[i] = dt > 0 ? (s.deliveredBytes() - t.get(from).deliveredBytes()) * 8 / dt : Double.NaN;
                atTun[i] = s.droppedAtTun();
                inQdisc[i] = s.droppedInQdisc();
                end = Math.max(end, s.seconds());
            }
            delivered.add(new Series(name, color, Style.LINE, x, bps));
            drops.add(new Series(String.format(java.util.Locale.ROOT, "row %d at tun: %,d", r + 1, row.droppedAtTun()),
                    color, Style.LINE, x, atTun));
            drops.add(new Series(String.format(java.util.Locale.ROOT, "row %d in the qdisc: %,d", r + 1,
                    row.droppedInQdisc()), LIGHT[r % LIGHT.length], Style.LINE, x, inQdisc));
        }
        delivered.add(new Series("the backend's rate", "#7f7f7f", Style.LINE, new double[] {0, end},
                new double[] {rate.bitsPerSecond(), rate.bitsPerSecond()}));
        return List.of(new Panel("Delivered to the backend (payload, over " + trim(WINDOW_SECONDS) + " s)",
                        Unit.BITS_PER_SECOND, delivered),
                new Panel("Dropped so far (packets)", Unit.COUNT, drops));
    }

    private static String trim(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
