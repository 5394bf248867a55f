package io.tunshape.daemon;

import io.tunshape.daemon.ReportParser.Reason;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/** What the report socket accepts (SPEC section 6, tunshape-report(7)), without a socket. */
class ReportParserTest {
    private static ReportParser.Outcome outcome(String json) {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        return ReportParser.parse(b, 0, b.length);
    }

    private static ReportParser.Report parse(String json) {
        return outcome(json).report();
    }

    private static Reason refused(String json) {
        ReportParser.Outcome o = outcome(json);
        assertNull(o.report(), json);
        return o.refused();
    }

    private static final String BASE = "{\"v\":1,\"dev\":\"tap0\",\"interval_ms\":500,\"tx_bytes\":0,\"busy_ms\":500";

    @Test
    void theContractFieldsAreEnough() {
        ReportParser.Report r = parse(BASE + "}");
        assertNotNull(r);
        assertEquals("tap0", r.dev());
        assertNull(r.netns(), "no netns: the sender's namespace is meant");
        assertEquals(-1, r.capacityBps(), "no capacity given");
        assertEquals(-1, r.ring(), "no ring given");
        assertEquals(-1, r.txFrames());
        assertEquals(-1, r.qdisc(), "no qdisc given");
        assertEquals(7, parse(BASE + ",\"ring\":0,\"qdisc\":7}").qdisc());
    }

    @Test
    void aCapacityOfZeroIsAnOutageNotAnError() {
        // the pump reports capacity 0 when its backend was busy all interval and carried nothing;
        // dropping such reports kept the rate high through every outage
        ReportParser.Report r = parse(BASE + ",\"capacity_bps\":0,\"tx_frames\":0,\"ring\":304}");
        assertNotNull(r);
        assertEquals(0, r.capacityBps());
        assertEquals(304, r.ring());
        assertEquals(0, r.txFrames());
    }

    @Test
    void integersDecimalsAndExponentsAreTheSameNumber() {
        for (String c : new String[] {"800000", "800000.0", "8e5", "8E+5", "800000.00000", "0.8e6", "800000.4"}) {
            assertEquals(800000, parse(BASE + ",\"capacity_bps\":" + c + "}").capacityBps(), c);
        }
        assertEquals(200, parse("{\"v\":1.0,\"dev\":\"tap0\",\"interval_ms\":200.0,\"tx_bytes\":2e4,\"busy_ms\":1.5e2}")
                .intervalMs());
        assertEquals(20000, parse("{\"v\":1,\"dev\":\"tap0\",\"interval_ms\":200,\"tx_bytes\":2e4,\"busy_ms\":150}")
                .txBytes());
        // a whole field rounds to the nearest
        assertEquals(800001, parse(BASE + ",\"capacity_bps\":800000.5}").capacityBps());
        assertEquals(3, parse(BASE + ",\"ring\":2.7}").ring());
    }

    @Test
    void nanInfinityNegativesAndOutOfRangeAreRefusedEachWithItsReason() {
        assertEquals(Reason.NOT_FINITE, refused(BASE + ",\"capacity_bps\":NaN}"));
        assertEquals(Reason.NOT_FINITE, refused(BASE + ",\"capacity_bps\":Infinity}"));
        assertEquals(Reason.NOT_FINITE, refused(BASE + ",\"capacity_bps\":-Infinity}"));
        assertEquals(Reason.NEGATIVE, refused(BASE + ",\"capacity_bps\":-5}"));
        assertEquals(Reason.NEGATIVE, refused(BASE + ",\"capacity_bps\":-0.5}"));
        assertEquals(Reason.NEGATIVE, refused(BASE + ",\"ring\":-1}"));
        assertEquals(Reason.OUT_OF_RANGE, refused(BASE + ",\"capacity_bps\":1e400}"));
        assertEquals(Reason.OUT_OF_RANGE, refused(BASE + ",\"capacity_bps\":1e300}"));
        assertEquals(Reason.OUT_OF_RANGE, refused(BASE + ",\"tx_frames\":99999999999999999999999}"));
        assertEquals(Reason.OUT_OF_RANGE, refused("{\"v\":1,\"dev\":\"tap0\",\"interval_ms\":0.2,\"tx_bytes\":0,"
                + "\"busy_ms\":0}"), "an interval that rounds to 0 ms");
        assertEquals(Reason.OUT_OF_RANGE, refused("{\"v\":1,\"dev\":\"tap0\",\"interval_ms\":1e9,\"tx_bytes\":0,"
                + "\"busy_ms\":0}"), "an interval over a day");
    }

    @Test
    void otherFaultsAreNamed() {
        assertEquals(Reason.WRONG_TYPE, refused(BASE + ",\"capacity_bps\":\"9600\"}"));
        assertEquals(Reason.WRONG_TYPE, refused(BASE + ",\"netns\":5}"));
        assertEquals(Reason.MISSING_FIELD, refused("{\"v\":1,\"dev\":\"tap0\",\"interval_ms\":500,\"busy_ms\":500}"));
        assertEquals("tx_bytes", outcome("{\"v\":1,\"dev\":\"tap0\",\"interval_ms\":500,\"busy_ms\":500}").field());
        assertEquals(Reason.MALFORMED, refused(BASE + "} trailing"));
        assertEquals(Reason.MALFORMED, refused("[1]"));
        assertEquals(Reason.MALFORMED, refused(""));
        assertEquals(Reason.BAD_VERSION, refused(BASE.replace("\"v\":1", "\"v\":2") + "}"));
        assertEquals(Reason.BAD_DEV, refused(BASE.replace("tap0", "a-name-longer-than-15") + "}"));
        assertEquals(Reason.BAD_DEV, refused(BASE.replace("tap0", "") + "}"));
        assertEquals(Reason.OVERSIZED, ReportParser.parse(new byte[5000], 0, 5000).refused());
    }

    @Test
    void whatTheWriterWritesTheParserReadsBack() {
        ReportParser.Report r = new ReportParser.Report("tap\"0", "n1", 100, 1250, 100, 9600, 3, 2, 0);
        assertEquals(r, parse(ReportParser.write(r)));
        ReportParser.Report bare = new ReportParser.Report("tap0", null, 100, 0, 0, -1, -1, -1, -1);
        assertEquals(bare, parse(ReportParser.write(bare)));
    }
}
