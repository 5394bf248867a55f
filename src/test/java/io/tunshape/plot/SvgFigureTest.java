package io.tunshape.plot;

import io.tunshape.plot.SvgFigure.Panel;
import io.tunshape.plot.SvgFigure.Series;
import io.tunshape.plot.SvgFigure.Style;
import io.tunshape.plot.SvgFigure.Unit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The figures parse as SVG and hold their series, point for point. */
public class SvgFigureTest {
    static final String SVG_NS = "http://www.w3.org/2000/svg";

    /** The document, parsed namespace-aware, with its root checked to be an svg element in the SVG namespace. */
    public static Document parse(String svg) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        Document d = f.newDocumentBuilder().parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
        Element root = d.getDocumentElement();
        assertEquals(SVG_NS, root.getNamespaceURI(), "not in the SVG namespace");
        assertEquals("svg", root.getLocalName());
        assertTrue(Integer.parseInt(root.getAttribute("width")) > 0 && Integer.parseInt(root.getAttribute("height")) > 0);
        assertEquals("0 0 " + root.getAttribute("width") + " " + root.getAttribute("height"),
                root.getAttribute("viewBox"));
        return d;
    }

    /** Each series' name and the points of its path ({x, y} pairs in the figure's coordinates). */
    public static Map<String, List<double[]>> series(Document d) {
        Map<String, List<double[]>> out = new LinkedHashMap<>();
        NodeList groups = d.getElementsByTagNameNS(SVG_NS, "g");
        for (int i = 0; i < groups.getLength(); i++) {
            Element g = (Element) groups.item(i);
            if (!"series".equals(g.getAttribute("class"))) {
                continue;
            }
            String title = g.getElementsByTagNameNS(SVG_NS, "title").item(0).getTextContent();
            String path = ((Element) g.getElementsByTagNameNS(SVG_NS, "path").item(0)).getAttribute("d");
            out.put(title, points(path));
        }
        return out;
    }

    /** The points a path's commands visit (M, L, H, V and the h0 of a dot). */
    static List<double[]> points(String d) {
        List<double[]> pts = new java.util.ArrayList<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("([MLHVh])([-0-9.]+)(?: ([-0-9.]+))?").matcher(d);
        double x = 0;
        double y = 0;
        while (m.find()) {
            switch (m.group(1)) {
                case "M", "L" -> {
                    x = Double.parseDouble(m.group(2));
                    y = Double.parseDouble(m.group(3));
                    pts.add(new double[] {x, y});
                }
                case "H" -> x = Double.parseDouble(m.group(2));
                case "V" -> {
                    y = Double.parseDouble(m.group(2));
                    pts.add(new double[] {x, y});
                }
                default -> {
                    // h0: a dot at the point just added
                }
            }
        }
        return pts;
    }

    @Test
    void aFigureParsesAsSvgAndHoldsEverySeriesPointForPoint() throws Exception {
        double[] x = {0, 1, 2, 3, 4};
        String svg = SvgFigure.render("rate <& \"capacity\">", "a subtitle", List.of(
                new Panel("rates", Unit.BITS_PER_SECOND, List.of(
                        new Series("capacity", "#999", Style.STEP, x, new double[] {1e6, 2e6, 1e6, 0, 1e6}),
                        new Series("rate", "#00f", Style.LINE, x, new double[] {1e6, Double.NaN, 1e6, 5e5, 1e6}))),
                new Panel("waits", Unit.SECONDS, List.of(
                        new Series("each packet", "#f80", Style.DOTS, new double[] {0.5, 1.5, 2.5},
                                new double[] {0.1, 0.2, 0.3})))));
        Document d = parse(svg);
        assertEquals("rate <& \"capacity\">", d.getElementsByTagNameNS(SVG_NS, "title").item(0).getTextContent(),
                "text is escaped, not broken");
        Map<String, List<double[]>> s = series(d);
        assertEquals(List.of("capacity", "rate", "each packet"), List.copyOf(s.keySet()));
        // a step holds its value until the next point (H), then moves to the new value (V); one more V at the end
        assertEquals(1 + 4 + 1, s.get("capacity").size());
        // NaN leaves a gap: 4 points in two strokes
        assertEquals(4, s.get("rate").size());
        assertEquals(3, s.get("each packet").size());
        // the x axis is shared: the same time falls on the same column in both panels
        assertEquals(s.get("capacity").get(2)[0], s.get("rate").get(1)[0], 1e-9);
        assertEquals(s.get("capacity").get(2)[1], s.get("rate").get(1)[1], 1e-9, "1 Mbit/s at the same height");
        // higher values are drawn higher (smaller y)
        assertTrue(s.get("each packet").get(0)[1] > s.get("each packet").get(2)[1]);
    }

    @Test
    void ticksAreRoundAndCoverTheRange() {
        assertArrayEquals(new double[] {0, 2, 4, 6, 8, 10, 12}, SvgFigure.ticks(11.5));
        assertArrayEquals(new double[] {0, 200_000, 400_000, 600_000, 800_000, 1_000_000}, SvgFigure.ticks(1e6));
        assertEquals("1.5 Mbit/s", Unit.BITS_PER_SECOND.format(1.5e6));
        assertEquals("250 ms", Unit.SECONDS.format(0.25));
        assertEquals("300 k", Unit.COUNT.format(300_000));
    }

    @Test
    void theTraceFigureHasCapacityRateBacklogAndWaits(@TempDir Path dir) throws Exception {
        Path in = dir.resolve("series.txt");
        Files.writeString(in, "# packets_per_dot 1\ncapacity 0 1000000\ncapacity 0.2 0\ncapacity 0.4 2000000\n"
                + "rate 0 900000\nrate 0.05 950000\nbacklog 0 0\nbacklog 0.02 1500\nbacklog 0.04 3000\n"
                + "qdisc_wait 0.01 0.02\npacket_wait 0.01 0.05\npacket_wait 0.02 0.06\n");
        Path out = dir.resolve("out.svg");
        TraceFigure.main(new String[] {in.toString(), out.toString(), "UMTS, adaptive", "utilised 99 %"});
        Map<String, List<double[]>> s = series(parse(Files.readString(out)));
        assertEquals(1 + 2 + 1, s.get("trace capacity (200 ms)").size());
        assertEquals(3, s.get("shaping rate").size());
        assertEquals(3, s.get("root qdisc backlog").size());
        assertEquals(2, s.get("each datagram, send to receiver").size());
        assertEquals(1, s.get("in the qdisc (per 5 ms of arrivals)").size());
    }
}
