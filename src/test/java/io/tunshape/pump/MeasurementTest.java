package io.tunshape.pump;

import io.tunshape.daemon.ReportParser;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pump's measurement and backend health, on plain values (no device, no kernel). */
class MeasurementTest {
    private static DeviceCounters c(long tx, long dropped, long qdiscSent, long handle) {
        return new DeviceCounters(tx, dropped, qdiscSent, handle, 0);
    }

    @Test
    void ringIsWhatTheQdiscHandedOverLessWhatWasReadOrDropped() {
        RingEstimate r = new RingEstimate();
        r.start(c(100, 5, 1000, 0x10000));
        assertEquals(3, r.next(c(150, 5, 1053, 0x10000)), "53 handed over, 50 read");
        assertEquals(1, r.next(c(160, 7, 1063, 0x10000)), "10 more in, 10 read and 2 dropped");
    }

    @Test
    void ringNoiseBelowZeroIsKeptNotCutSoItCancelsOut() {
        RingEstimate r = new RingEstimate();
        r.start(c(0, 0, 0, 1));
        assertEquals(0, r.next(c(12, 0, 10, 1)), "read a moment after the qdisc: 2 under, shown as 0");
        assertEquals(0, r.next(c(20, 0, 20, 1)), "the 2 come back: 0, not 2");
    }

    @Test
    void aReplacedQdiscCountsFromZeroAndNoQdiscIsUnknown() {
        RingEstimate r = new RingEstimate();
        r.start(c(0, 0, 500, 1));
        assertEquals(4, r.next(c(6, 0, 10, 2)), "a new handle: its 10 sent are all new");
        assertEquals(-1, r.next(c(6, 0, -1, -1)), "no qdisc: unknown");
        RingEstimate unknown = new RingEstimate();
        unknown.start(null);
        assertEquals(0, unknown.next(c(6, 0, 10, 2)), "no counters at the start: the first interval is the zero");
    }

    @Test
    void meterClosesIntervalsAndCountsFramesWrittenPerInterval() {
        Meter m = new Meter("t0", "n1", null, System.nanoTime(), false);
        m.start();
        m.handedOver(3000, 2);
        m.busy(100_000_000L, 3000);
        Interval a = m.close(1_000_000_000L, 1, 7);
        assertEquals(3000, a.txBytes());
        assertEquals(2, a.txFrames());
        assertEquals(240_000, a.capacityBps(), "3000 bytes in 100 ms of busy time");
        assertEquals(7, a.rxFrames());
        assertEquals(-1, a.ring(), "no counters: unknown");
        Interval b = m.close(1_000_000_000L, 0, 10);
        assertEquals(0, b.txBytes(), "the next interval starts empty");
        assertEquals(-1, b.capacityBps(), "not busy long enough to tell");
        assertEquals(3, b.rxFrames(), "frames written since the last report");
        assertEquals(2, m.txFramesTotal());
    }

    @Test
    void reportsCarryKernelFlowControlAndTheDaemonAcceptsThem() {
        for (boolean on : new boolean[] {false, true}) {
            Meter m = new Meter("t0", "n1", null, System.nanoTime(), on);
            m.handedOver(1500, 1);
            Interval iv = m.close(1_000_000_000L, 0, 0);
            String json = iv.toJson();
            assertTrue(json.endsWith(",\"kernel_flow_control\":" + on + "}"), json);
            assertTrue(iv.toText().endsWith("kernel flow control " + (on ? "on" : "off")), iv.toText());
            byte[] b = json.getBytes(StandardCharsets.UTF_8);
            ReportParser.Outcome o = ReportParser.parse(b, 0, b.length);
            assertEquals(null, o.refused(), json);
            assertEquals(1500, o.report().txBytes());
        }
    }

    @Test
    void kernelFlowControlFollowsWhatTheKernelOffers() {
        int without = 0x7173; // TUNGETFEATURES on 6.1 to 6.18
        int with = 0x71f3; // on 7.3-rc7
        assertFalse(KernelFlowControl.AUTO.decide(without, "6.18.0").on());
        assertTrue(KernelFlowControl.AUTO.decide(with, "7.3.0-rc7").on());
        assertTrue(KernelFlowControl.ON.decide(with, "7.3.0-rc7").on());
        assertFalse(KernelFlowControl.OFF.decide(with, "7.3.0-rc7").on());
        assertEquals("kernel flow control: off (Linux 6.18.0 does not offer IFF_BACKPRESSURE (TUNGETFEATURES 0x7173; "
                + "it came with Linux 7.3); a full ring drops)", KernelFlowControl.AUTO.decide(without, "6.18.0").describe());
        KernelFlowControl.NotOfferedException e = assertThrows(KernelFlowControl.NotOfferedException.class,
                () -> KernelFlowControl.ON.decide(without, "6.18.0"));
        assertTrue(e.getMessage().contains("Linux 6.18.0 does not offer IFF_BACKPRESSURE"), e.getMessage());
        assertEquals(KernelFlowControl.OFF, KernelFlowControl.parse("Off"));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> KernelFlowControl.parse("yes"));
        assertEquals("'yes' is not a choice; accepted: auto, on, off", bad.getMessage());
    }

    /** A backend whose sends may fail, for {@link BackendHealth}. */
    private static final class Flaky implements Backend {
        boolean confirmed;

        @Override
        public boolean confirmed() {
            return confirmed;
        }

        @Override
        public void open() {
        }

        @Override
        public void send(ByteBuffer frame) {
        }

        @Override
        public boolean receive(ByteBuffer buf, int timeoutMs) {
            return false;
        }

        @Override
        public String describe() {
            return "flaky";
        }

        @Override
        public void close() {
        }
    }

    @Test
    void healthSaysDownOnceBacksOffAndSaysUpOnlyWhenConfirmed() {
        List<String> log = new ArrayList<>();
        Flaky b = new Flaky();
        BackendHealth h = new BackendHealth(b, log::add);
        h.down(new IOException("refused"), 0);
        h.down(new IOException("refused"), 0);
        assertFalse(h.up());
        assertEquals(200_000_000L, h.retryAt(), "second outage: 200 ms after the first's 100");
        assertEquals(1, log.size(), "down is said once per outage: " + log);
        h.worked();
        assertEquals(1, log.size(), "not confirmed yet");
        b.confirmed = true;
        h.worked();
        h.open(0);
        assertTrue(h.up());
        assertEquals(List.of("backend flaky is down: refused; retrying with backoff (the device stays)",
                "backend flaky is up again"), log);
        h.down(new IOException("refused"), 0);
        assertEquals(100_000_000L, h.retryAt(), "backoff starts again at 100 ms after an up");
    }
}
