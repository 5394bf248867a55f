package io.tunshape.fuzz;

import io.tunshape.daemon.ReportParser;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The report parser (the daemon's pure one) on any datagram: it never throws (its contract), every
 * refusal has a reason, and a report it writes comes back as the same report; a whole number
 * written as an integer, a decimal or with an exponent is the same report.
 */
class ReportFuzzTest {
    /** Reports as drivers write them (also Jazzer's corpus for {@link JazzerFuzzTest#report}). */
    static final List<byte[]> SEEDS = TextMutate.files("src/test/resources/io/tunshape/fuzz/JazzerFuzzTestInputs/report");

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Provide
    Arbitrary<byte[]> datagrams() {
        return Arbitraries.oneOf(TextMutate.from(SEEDS), Mutate.from(SEEDS, 300),
                // past the 4096-byte bound, and deep nesting within it
                Arbitraries.randomValue(r -> {
                    StringBuilder b = new StringBuilder("{\"v\":1,\"x\":");
                    int depth = r.nextInt(3000);
                    b.append("[".repeat(depth)).append("]".repeat(r.nextBoolean() ? depth : 0)).append('}');
                    return bytes(b.toString());
                }));
    }

    @Property
    void anyDatagramParsesWithoutThrowingAndEveryRefusalHasAReason(@ForAll("datagrams") byte[] d) {
        checkDatagram(d);
    }

    /** The report parser's invariant on one datagram (shared with Jazzer). */
    static void checkDatagram(byte[] d) {
        Fuzz.check("report", d, 200, () -> {
            ReportParser.Outcome o = ReportParser.parse(d, 0, d.length);
            if ((o.report() == null) == (o.refused() == null)) {
                throw new AssertionError("neither a report nor a reason, or both: " + o);
            }
            o.why();
        });
    }

    @Provide
    Arbitrary<ReportParser.Report> reports() {
        Arbitrary<String> dev = Arbitraries.strings().withCharRange('a', 'z').withChars("0123456789-_.\u00e9")
                .ofMinLength(1).ofMaxLength(7);
        Arbitrary<Long> count = Arbitraries.longs().between(0, 1L << 53);
        Arbitrary<Long> ms = Arbitraries.longs().between(0, 86_400_000L);
        Arbitrary<Long> opt = Arbitraries.longs().between(-1, 1L << 40);
        return Combinators.combine(dev, ms.filter(x -> x > 0), count, ms, opt, opt, opt, opt)
                .as((d, i, t, b, c, f, rg, q) -> new ReportParser.Report(d, null, i, t, b, c, f, rg, q));
    }

    @Property
    void aWrittenReportComesBackTheSameInEveryNumberSpelling(@ForAll("reports") ReportParser.Report r) {
        String w = ReportParser.write(r);
        ReportParser.Outcome o = ReportParser.parse(bytes(w), 0, bytes(w).length);
        if (!r.equals(o.report())) {
            throw new AssertionError(w + " came back as " + o.report() + " / " + o.why());
        }
        // the same whole numbers as decimals (N.0) and in exponent form where exact (Ne0)
        for (String spelled : new String[] {w.replaceAll("(\":)(\\d+)", "$1$2.0"),
            w.replaceAll("(\":)(\\d+)", "$1$2e0")}) {
            ReportParser.Outcome s = ReportParser.parse(bytes(spelled), 0, bytes(spelled).length);
            if (!r.equals(s.report())) {
                throw new AssertionError(spelled + " came back as " + s.report() + " / " + s.why());
            }
        }
    }

    @AfterContainer
    static void summary() {
        System.out.println("fuzz: inputs tried " + Fuzz.summary());
    }
}
