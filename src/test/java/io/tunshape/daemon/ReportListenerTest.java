package io.tunshape.daemon;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/** What the report socket accepts (SPEC section 6), without a socket. */
class ReportListenerTest {
    private final ReportListener l = new ReportListener(r -> { }, s -> { });

    private ReportListener.Report parse(String json) {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        return l.parse(b, b.length);
    }

    private static final String BASE = "{\"v\":1,\"dev\":\"tap0\",\"interval_ms\":500,\"tx_bytes\":0,\"busy_ms\":500";

    @Test
    void theContractFieldsAreEnough() {
        ReportListener.Report r = parse(BASE + "}");
        assertNotNull(r);
        assertEquals("tap0", r.dev());
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
        ReportListener.Report r = parse(BASE + ",\"capacity_bps\":0,\"tx_frames\":0,\"ring\":304}");
        assertNotNull(r);
        assertEquals(0, r.capacityBps());
        assertEquals(304, r.ring());
        assertEquals(0, r.txFrames());
    }

    @Test
    void negativeOrNonIntegerCountsAreRefused() {
        assertNull(parse(BASE + ",\"capacity_bps\":-5}"));
        assertNull(parse(BASE + ",\"capacity_bps\":1.5}"));
        assertNull(parse(BASE + ",\"capacity_bps\":\"9600\"}"));
        assertNull(parse(BASE + ",\"ring\":-1}"));
        assertNull(parse(BASE + ",\"tx_frames\":-3}"));
        assertNull(parse(BASE + ",\"qdisc\":-2}"));
        assertNull(parse("{\"v\":1,\"dev\":\"tap0\",\"interval_ms\":500,\"busy_ms\":500}"), "tx_bytes is required");
        assertNull(parse(BASE + "} trailing"));
    }
}
