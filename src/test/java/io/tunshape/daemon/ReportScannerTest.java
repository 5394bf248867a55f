package io.tunshape.daemon;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.nio.charset.StandardCharsets;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * The report parser's fast path ({@link ReportScanner}) against Jackson's reading of the same
 * datagram ({@link ReportParser#parseWithJackson}): where the fast path gives an outcome it is
 * Jackson's, on reports as drivers write them, their spellings, and their random mutations; and the
 * reports drivers write take the fast path.
 */
class ReportScannerTest {
    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** What Jackson says, or the fast path if it takes the datagram (then it must say the same). */
    private static void same(byte[] d) {
        ReportParser.Outcome fast = ReportScanner.scan(d, 0, d.length);
        net.jqwik.api.statistics.Statistics.collect(fast == null ? "left to Jackson" : fast.report() != null
                ? "read by the fast path" : "refused by the fast path");
        if (fast != null) {
            assertEquals(ReportParser.parseWithJackson(d, 0, d.length), fast, new String(d, StandardCharsets.ISO_8859_1));
        }
    }

    @Provide
    Arbitrary<String> written() {
        Arbitrary<String> dev = Arbitraries.strings().withCharRange('a', 'z').withChars("0123456789-_./ \u00e9")
                .ofMinLength(0).ofMaxLength(17);
        Arbitrary<String> netns = Arbitraries.strings().withCharRange('a', 'z').ofMaxLength(8).injectNull(0.5);
        Arbitrary<Long> count = Arbitraries.longs().between(0, 1L << 53);
        Arbitrary<Long> ms = Arbitraries.longs().between(0, 90_000_000L);
        Arbitrary<Long> opt = Arbitraries.longs().between(-1, 1L << 40);
        Arbitrary<String[]> names = Combinators.combine(dev, netns).as((d, n) -> new String[] {d, n});
        Arbitrary<ReportParser.Report> r = Combinators.combine(names, ms, count, ms, opt, opt, opt, opt)
                .as((dn, i, t, b, c, f, rg, q) -> new ReportParser.Report(dn[0], dn[1], i, t, b, c, f, rg, q));
        // ReportParser's own spelling, and a driver's with spaces (Python's json.dumps)
        return Combinators.combine(r, Arbitraries.of(false, true)).as((rep, spaced) -> {
            String w = ReportParser.write(rep);
            return spaced ? w.replace(",\"", ", \"").replace("\":", "\": ") : w;
        });
    }

    @Property
    void aWrittenReportReadsAsJacksonReadsIt(@ForAll("written") String w) {
        same(bytes(w));
    }

    private static final String ALPHABET = "{}[]\":,. \t\n\r-+eE0123456789abcdevnstx_\\/u\u00e9\u0000";

    @Property(tries = 5000)
    void aMutatedReportReadsAsJacksonReadsIt(@ForAll("written") String w, @ForAll long seed) {
        Random rnd = new Random(seed);
        StringBuilder s = new StringBuilder(w);
        int edits = 1 + rnd.nextInt(3);
        for (int k = 0; k < edits && s.length() > 0; k++) {
            int at = rnd.nextInt(s.length());
            switch (rnd.nextInt(4)) {
                case 0 -> s.deleteCharAt(at);
                case 1 -> s.insert(at, ALPHABET.charAt(rnd.nextInt(ALPHABET.length())));
                case 2 -> s.setCharAt(at, ALPHABET.charAt(rnd.nextInt(ALPHABET.length())));
                default -> { // a field of it again, later: duplicates, last one wins
                    int c = s.indexOf(",", at);
                    int e = c < 0 ? -1 : s.indexOf(",", c + 1);
                    if (e > c) {
                        s.insert(s.length() - 1, s.substring(c, e));
                    }
                }
            }
        }
        same(bytes(s.toString()));
    }

    @Example
    void reportsAsDriversWriteThemTakeTheFastPath() {
        for (String w : new String[] {
            "{\"v\":1,\"dev\":\"tap0\",\"interval_ms\":100,\"tx_bytes\":1,\"busy_ms\":100,\"capacity_bps\":2000000}",
            "{\"v\": 1, \"dev\": \"tap0\", \"netns\": \"tslat1\", \"interval_ms\": 100, \"tx_bytes\": 1, \"busy_ms\": 100, "
                    + "\"capacity_bps\": 3000000}\n",
            "{\"v\":1,\"dev\":\"radio0\",\"interval_ms\":1000,\"tx_bytes\":0,\"busy_ms\":0,\"tx_frames\":0,\"ring\":0,"
                    + "\"qdisc\":0,\"extra\":\"ignored\"}"}) {
            assertNotNull(ReportScanner.scan(bytes(w), 0, bytes(w).length), w);
            same(bytes(w));
        }
        // refusals read alike: a missing field, a bad version, a bad device name
        for (String w : new String[] {"{}", "{\"v\":2,\"dev\":\"t\",\"interval_ms\":1,\"tx_bytes\":1,\"busy_ms\":1}",
            "{\"v\":1,\"dev\":\"a/b\",\"interval_ms\":1,\"tx_bytes\":1,\"busy_ms\":1}",
            "{\"v\":1,\"dev\":\"t\",\"interval_ms\":0,\"tx_bytes\":1,\"busy_ms\":1}"}) {
            assertNotNull(ReportScanner.scan(bytes(w), 0, bytes(w).length), w);
            same(bytes(w));
        }
        // left to Jackson: other spellings and every malformed datagram
        for (String w : new String[] {"{\"v\":1.0}", "{\"v\":1e0}", "{\"v\":-1}", "{\"d\\u0065v\":\"t\"}", "{\"v\":01}",
            "{\"v\":1,}", "{\"v\":1} x", "[1]", "{\"x\":[1,2]}", "{\"dev\":\"t\\n\"}", "{\"v\":NaN}",
            "{\"interval_ms\":86400001}", "{\"dev\":5}", "{\"v\":\"1\"}", "{\"v\":1234567890123456}"}) {
            assertNull(ReportScanner.scan(bytes(w), 0, bytes(w).length), w);
        }
    }
}
