package io.tunshape.plot;

import javax.xml.stream.XMLOutputFactory;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamWriter;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * A figure of time series as SVG: panels stacked over one time axis, each with its own y axis and
 * a legend. Written with the JDK's XML writer (which escapes), so it needs no fonts, no AWT and no
 * network: text is laid out by whatever shows the file (README, "Dependencies", says why no
 * charting library). Each series is a {@code <g class="series">} whose {@code <title>} is its name,
 * so a reader (or a test) can find it.
 */
public final class SvgFigure {
    private static final int WIDTH = 960;
    private static final int LEFT = 80;
    private static final int RIGHT = 250;
    private static final int PANEL_HEIGHT = 200;
    private static final int PANEL_GAP = 56;
    private static final int TOP = 84;
    private static final int BOTTOM = 48;

    /** How a series is drawn: joined points, steps (a value holds until the next), or dots. */
    public enum Style { LINE, STEP, DOTS }

    /** What the y values are, for the axis labels. */
    public enum Unit {
        BITS_PER_SECOND("bit/s"), BYTES("B"), SECONDS("s"), COUNT("");

        final String suffix;

        Unit(String suffix) {
            this.suffix = suffix;
        }

        String format(double v) {
            if (this == SECONDS) {
                return v == 0 ? "0" : v < 1 ? trim(v * 1000) + " ms" : trim(v) + " s";
            }
            String[] prefixes = {"", "k", "M", "G", "T"};
            int i = 0;
            double x = Math.abs(v);
            while (x >= 1000 && i < prefixes.length - 1) {
                x /= 1000;
                i++;
            }
            String s = trim(Math.signum(v) * x) + (prefixes[i].isEmpty() && suffix.isEmpty() ? "" : " ")
                    + prefixes[i] + suffix;
            return s.strip();
        }
    }

    public record Series(String name, String color, Style style, double[] x, double[] y) {
        public Series {
            if (x.length != y.length) {
                throw new IllegalArgumentException(name + ": " + x.length + " x values, " + y.length + " y values");
            }
        }
    }

    public record Panel(String title, Unit unit, List<Series> series) {
    }

    private SvgFigure() {
    }

    /** A figure of {@code panels} over seconds from 0 to the largest x of any series. */
    public static String render(String title, String subtitle, List<Panel> panels) {
        double xMax = 0;
        for (Panel p : panels) {
            xMax = Math.max(xMax, max(p.series(), true));
        }
        double[] xTicks = ticks(xMax <= 0 ? 1 : xMax);
        double xTop = xTicks[xTicks.length - 1];
        int height = TOP + panels.size() * (PANEL_HEIGHT + PANEL_GAP) + BOTTOM - PANEL_GAP;
        StringWriter out = new StringWriter();
        try {
            XMLStreamWriter w = XMLOutputFactory.newFactory().createXMLStreamWriter(out);
            w.writeStartDocument("UTF-8", "1.0");
            w.writeCharacters("\n");
            w.writeStartElement("svg");
            w.writeDefaultNamespace("http://www.w3.org/2000/svg");
            w.writeAttribute("width", Integer.toString(WIDTH));
            w.writeAttribute("height", Integer.toString(height));
            w.writeAttribute("viewBox", "0 0 " + WIDTH + " " + height);
            w.writeAttribute("font-family", "sans-serif");
            w.writeAttribute("font-size", "12");
            element(w, "title", title);
            rect(w, 0, 0, WIDTH, height, "white", null);
            text(w, LEFT, 24, title, "start", "16", "bold");
            if (subtitle != null) {
                text(w, LEFT, 44, subtitle, "start", "12", null);
            }
            int y0 = TOP;
            for (Panel p : panels) {
                panel(w, p, y0, xTop, xTicks);
                y0 += PANEL_HEIGHT + PANEL_GAP;
            }
            text(w, LEFT + (WIDTH - LEFT - RIGHT) / 2.0, height - 12, "time (s)", "middle", "12", null);
            w.writeEndElement();
            w.writeEndDocument();
            w.close();
        } catch (XMLStreamException e) {
            throw new IllegalStateException("writing SVG: " + e.getMessage(), e);
        }
        return out + "\n";
    }

    public static void write(Path file, String title, String subtitle, List<Panel> panels) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(file, render(title, subtitle, panels), StandardCharsets.UTF_8);
    }

    private static void panel(XMLStreamWriter w, Panel p, int top, double xTop, double[] xTicks)
            throws XMLStreamException {
        double yMax = max(p.series(), false);
        double[] yTicks = ticks(yMax <= 0 ? 1 : yMax);
        double yTop = yTicks[yTicks.length - 1];
        int plotW = WIDTH - LEFT - RIGHT;
        w.writeStartElement("g");
        w.writeAttribute("class", "panel");
        text(w, LEFT, top - 8, p.title(), "start", "13", "bold");
        rect(w, LEFT, top, plotW, PANEL_HEIGHT, "none", "#999");
        for (double t : yTicks) {
            double y = top + PANEL_HEIGHT - t / yTop * PANEL_HEIGHT;
            line(w, LEFT, y, LEFT + plotW, y, "#e4e4e4");
            text(w, LEFT - 6, y + 4, p.unit().format(t), "end", "11", null);
        }
        for (double t : xTicks) {
            double x = LEFT + t / xTop * plotW;
            line(w, x, top, x, top + PANEL_HEIGHT, "#eeeeee");
            text(w, x, top + PANEL_HEIGHT + 16, trim(t), "middle", "11", null);
        }
        int legendY = top + 14;
        for (Series s : p.series()) {
            w.writeStartElement("g");
            w.writeAttribute("class", "series");
            element(w, "title", s.name());
            path(w, s, top, xTop, yTop, plotW);
            w.writeEndElement();
            line(w, LEFT + plotW + 14, legendY - 4, LEFT + plotW + 34, legendY - 4, s.color(), 3);
            text(w, LEFT + plotW + 40, legendY, s.name(), "start", "12", null);
            legendY += 18;
        }
        w.writeEndElement();
    }

    private static void path(XMLStreamWriter w, Series s, int top, double xTop, double yTop, int plotW)
            throws XMLStreamException {
        StringBuilder d = new StringBuilder();
        boolean pen = false;
        double lastY = 0;
        for (int i = 0; i < s.x().length; i++) {
            double xv = s.x()[i];
            double yv = s.y()[i];
            if (!Double.isFinite(xv) || !Double.isFinite(yv)) {
                pen = false; // a gap: the next point starts a new stroke
                continue;
            }
            double x = LEFT + xv / xTop * plotW;
            double y = top + PANEL_HEIGHT - Math.min(yv, yTop) / yTop * PANEL_HEIGHT;
            switch (s.style()) {
                case DOTS -> d.append('M').append(f(x)).append(' ').append(f(y)).append("h0");
                case LINE -> d.append(pen ? 'L' : 'M').append(f(x)).append(' ').append(f(y));
                case STEP -> {
                    if (pen) {
                        d.append('H').append(f(x)).append('V').append(f(y));
                    } else {
                        d.append('M').append(f(x)).append(' ').append(f(y));
                    }
                }
            }
            pen = true;
            lastY = y;
        }
        if (s.style() == Style.STEP && pen && s.x().length > 0) {
            d.append('V').append(f(lastY)); // ends where its last value is
        }
        w.writeEmptyElement("path");
        w.writeAttribute("d", d.length() == 0 ? "M0 0" : d.toString());
        w.writeAttribute("fill", "none");
        w.writeAttribute("stroke", s.color());
        w.writeAttribute("stroke-width", s.style() == Style.DOTS ? "2.5" : "1.6");
        w.writeAttribute("stroke-linecap", "round");
        w.writeAttribute("stroke-linejoin", "round");
        if (s.style() == Style.DOTS) {
            w.writeAttribute("stroke-opacity", "0.5");
        }
    }

    /** The largest finite x (or y) of the series, 0 when none. */
    private static double max(List<Series> series, boolean x) {
        double m = 0;
        for (Series s : series) {
            for (double v : x ? s.x() : s.y()) {
                if (Double.isFinite(v)) {
                    m = Math.max(m, v);
                }
            }
        }
        return m;
    }

    /** Round ticks (1, 2 or 5 times a power of ten) from 0 to at least {@code max}, at most 8 of them. */
    static double[] ticks(double max) {
        double raw = max / 5;
        double pow = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = pow;
        for (double m : new double[] {1, 2, 5, 10}) {
            step = m * pow;
            if (max / step <= 7) {
                break;
            }
        }
        int n = (int) Math.ceil(max / step - 1e-9);
        double[] t = new double[n + 1];
        for (int i = 0; i <= n; i++) {
            t[i] = i * step;
        }
        return t;
    }

    private static String f(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    static String trim(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        String s = String.format(Locale.ROOT, "%.3g", v);
        if (s.contains(".") && !s.contains("e")) {
            s = s.replaceAll("0+$", "").replaceAll("\\.$", "");
        }
        return s;
    }

    private static void element(XMLStreamWriter w, String name, String text) throws XMLStreamException {
        w.writeStartElement(name);
        w.writeCharacters(text);
        w.writeEndElement();
    }

    private static void text(XMLStreamWriter w, double x, double y, String s, String anchor, String size,
                             String weight) throws XMLStreamException {
        w.writeStartElement("text");
        w.writeAttribute("x", f(x));
        w.writeAttribute("y", f(y));
        w.writeAttribute("text-anchor", anchor);
        w.writeAttribute("font-size", size);
        if (weight != null) {
            w.writeAttribute("font-weight", weight);
        }
        w.writeCharacters(s);
        w.writeEndElement();
    }

    private static void rect(XMLStreamWriter w, double x, double y, double wd, double h, String fill, String stroke)
            throws XMLStreamException {
        w.writeEmptyElement("rect");
        w.writeAttribute("x", f(x));
        w.writeAttribute("y", f(y));
        w.writeAttribute("width", f(wd));
        w.writeAttribute("height", f(h));
        w.writeAttribute("fill", fill);
        if (stroke != null) {
            w.writeAttribute("stroke", stroke);
        }
    }

    private static void line(XMLStreamWriter w, double x1, double y1, double x2, double y2, String stroke)
            throws XMLStreamException {
        line(w, x1, y1, x2, y2, stroke, 1);
    }

    private static void line(XMLStreamWriter w, double x1, double y1, double x2, double y2, String stroke, int width)
            throws XMLStreamException {
        w.writeEmptyElement("line");
        w.writeAttribute("x1", f(x1));
        w.writeAttribute("y1", f(y1));
        w.writeAttribute("x2", f(x2));
        w.writeAttribute("y2", f(y2));
        w.writeAttribute("stroke", stroke);
        w.writeAttribute("stroke-width", Integer.toString(width));
    }
}
