package io.tunshape.profile;

import io.tunshape.tc.Duration;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.Psched;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;
import io.tunshape.tc.TbfSpec;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Planning for kernel flow control (tun_flags with IFF_BACKPRESSURE) and shaping with no rate. */
class ReaderPlanTest {
    private static final long WMEM = 212992;
    private final Planner planner = new Planner(Psched.DEFAULT, WMEM);
    private static final Device PLAIN = new Device("t0", 1500, 0, 500, 0x1001);
    private static final Device FLOW = new Device("t0", 1500, 0, 500, 0x1081);

    private static ShapingRequest rate(String rate, Size limit) {
        return new ShapingRequest(null, Rate.parse(rate), rate, null, null, limit, null, null, 1, 0, 0, null);
    }

    private static ShapingRequest reader(int senders) {
        return new ShapingRequest(null, ShapingRequest.READER_RATE, ShapingRequest.READER, null, null, null, null,
                null, senders, 0, 0, null);
    }

    @Test
    void withoutTheFlagNothingChanges() {
        for (Device d : new Device[] {PLAIN, new Device("t0", 1500, 0, 500)}) {
            assertEquals(planner.plan(rate("2mbit", null), new Device("t0", 1500, 0, 500)), planner.plan(rate("2mbit", null), d));
        }
        assertTrue(planner.plan(rate("2mbit", null), PLAIN).explanation().stream().noneMatch(l -> l.contains("flow control")));
    }

    @Test
    void withTheFlagThePlanSaysNothingIsLostAtTunAndTheQdiscHoldsTheRest() {
        Plan plain = planner.plan(rate("2mbit", null), PLAIN);
        Plan fc = planner.plan(rate("2mbit", null), FLOW);
        assertEquals(plain.qdisc(), fc.qdisc(), "the kernel objects are the same");
        assertEquals(plain.warnings(), fc.warnings());
        String text = String.join("\n", fc.explanation());
        assertTrue(text.contains("kernel flow control (tun_flags 0x1081, IFF_BACKPRESSURE): nothing is lost at tun, "
                + "even with a rate above the link"), text);
        long limit = ((TbfSpec) fc.qdisc()).limit().bytes();
        assertTrue(text.contains("the qdisc holds what the link cannot take (up to " + limit + " bytes), then local "
                + "senders block"), text);
        assertTrue(text.contains("stall guard"), text);
        // a limit below the senders' buffers: the qdisc drops past it, and says so
        String small = String.join("\n", planner.plan(rate("2mbit", Size.of(20000)), FLOW).explanation());
        assertTrue(small.contains("then it drops (counted)"), small);
    }

    @Test
    void readerIsAQueueForTheSendersBuffersAtANominalRate() {
        Plan p = planner.plan(reader(3), FLOW);
        TbfSpec t = (TbfSpec) p.qdisc();
        assertEquals(ShapingRequest.READER_RATE, t.rate());
        assertEquals(65536, t.burst().bytes());
        assertEquals(3 * WMEM + 65536, t.limit().bytes());
        assertEquals(List.of(), p.warnings());
        assertTrue(p.explanation().get(0).startsWith("rate: reader (paced by the reader; tbf at 32gbit as a formality"),
                p.explanation().toString());
        assertNull(Planner.readerRefusal(reader(1), FLOW));
        assertNull(p.txqueuelen(), "no rate to derive tun's ring from: the device's stays");

        Plan flows = planner.plan(reader(1).withFlows(8, null), FLOW);
        HtbSpec h = (HtbSpec) flows.qdisc();
        assertEquals(8, h.flows().count());
        assertEquals(ShapingRequest.READER_RATE, h.classes().get(0).rate());
        String text = String.join("\n", flows.explanation());
        assertTrue(text.contains("rate: reader (paced by the reader; htb at 32gbit"), text);
        assertTrue(text.contains("the busy queues take turns, 1500 bytes each"), text);
    }

    @Test
    void readerWithoutTheFlagIsRefusedNamingTheDeviceAndItsFlags() {
        String why = Planner.readerRefusal(reader(1), PLAIN);
        assertTrue(why.startsWith("rate reader on t0: its tun_flags 0x1001 lack IFF_BACKPRESSURE"), why);
        assertTrue(why.contains("Give a rate"), why);
        assertTrue(Planner.readerRefusal(reader(1), new Device("x0", 1500, 14, 1000)).contains("no tun_flags"));
        assertNull(Planner.readerRefusal(rate("1mbit", null), PLAIN), "a rate is fine without the flag");
        // the plan (a dry run's) carries it as a warning
        assertEquals(List.of(why), planner.plan(reader(1), PLAIN).warnings());
    }

    @Test
    void whatNeedsARateIsRefusedWithReader() {
        ShapingRequest r = reader(1);
        ShapingRequest latency = new ShapingRequest(null, r.rate(), r.rateText(), null, null, null,
                Duration.parse("1s"), null, 1, 0, 0, null);
        assertEquals("latency", assertThrows(PlanException.class, () -> planner.plan(latency, FLOW)).field());
        ShapingRequest ceil = new ShapingRequest("htb", r.rate(), r.rateText(), Rate.parse("1gbit"), null, null, null,
                null, 1, 0, 0, null);
        assertEquals("ceil", assertThrows(PlanException.class, () -> planner.plan(ceil, FLOW)).field());
        ShapingRequest limit = new ShapingRequest(null, r.rate(), r.rateText(), null, null, Size.of(100000), null,
                null, 1, 0, 0, null);
        assertEquals(100000, ((TbfSpec) planner.plan(limit, FLOW).qdisc()).limit().bytes(), "a limit in bytes is fine");
    }

    @Test
    void profilesSayReaderAndRefuseItWithAdaptiveOrClasses() {
        ProfileLoader loader = new ProfileLoader(List.of(), planner);
        Profile p = loader.parse(yaml("link:\n  rate: reader\nshaping:\n  flows: 4\n"), "r.yaml", null);
        assertTrue(p.request().readerPaced());
        assertEquals(4, p.request().flows());
        ProfileException ad = assertThrows(ProfileException.class, () -> loader.parse(yaml("link:\n  rate: reader\n"
                + "adaptive:\n  min_rate: 1mbit\n  max_rate: 2mbit\n"), "a.yaml", null));
        assertTrue(ad.getMessage().contains("adaptive") && ad.getMessage().contains("rate: reader"), ad.getMessage());
        ProfileException cl = assertThrows(ProfileException.class, () -> loader.parse(yaml("link:\n  rate: reader\n"
                + "shaping:\n  qdisc: htb\n  classes:\n    - name: a\n      rate: 1mbit\n      default: true\n"),
                "c.yaml", null));
        assertTrue(cl.getMessage().contains("classes"), cl.getMessage());
    }

    private static byte[] yaml(String body) {
        return ("name: r\ndescription: reader paced\nsource: test\n" + body).getBytes(StandardCharsets.UTF_8);
    }
}
