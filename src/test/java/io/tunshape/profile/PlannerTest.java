package io.tunshape.profile;

import io.tunshape.tc.Duration;
import io.tunshape.tc.FlowQueues;
import io.tunshape.tc.HtbClassSpec;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.Psched;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;
import io.tunshape.tc.TbfSpec;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PlannerTest {
    private final Planner planner = new Planner(Psched.DEFAULT, 212992);
    private static final Device TUN = new Device("tun0", 1500, 0, 500);
    private static final Device TAP = new Device("tap0", 1500, 14, 1000);

    private static ShapingRequest req(String qdisc, String rate, String burst, String limit, String latency, Mode mode) {
        return new ShapingRequest(qdisc, Rate.parse(rate), rate, null, burst == null ? null : Size.parse(burst),
                limit == null ? null : Size.parse(limit), latency == null ? null : Duration.parse(latency), mode, 1, 0,
                0, null);
    }

    @Test
    void defaultBurstIsOneFrameAtSlowRatesAndOneMillisecondAtFastOnes() {
        assertEquals(1500, ((TbfSpec) planner.plan(req("tbf", "9600bit", null, null, "2s", null), TUN).qdisc()).burst().bytes());
        assertEquals(1514, ((TbfSpec) planner.plan(req("tbf", "9600bit", null, null, "2s", null), TAP).qdisc()).burst().bytes());
        assertEquals(125_000, ((TbfSpec) planner.plan(req("tbf", "1gbit", null, null, "2ms", null), TUN).qdisc()).burst()
                .bytes());
    }

    @Test
    void withoutTheTextThePlanIsTheSame() {
        // the daemon's path for each rate change: the same kernel objects, no explanation or warnings
        for (String q : new String[] {"tbf", "htb"}) {
            ShapingRequest r = req(q, "9601bit", null, null, "2s", null);
            Plan full = planner.plan(r, TAP);
            Plan bare = planner.plan(r, TAP, false);
            assertEquals(full.qdisc(), bare.qdisc(), q);
            assertEquals(full.txqueuelen(), bare.txqueuelen(), q);
            assertFalse(full.explanation().isEmpty());
            assertFalse(full.warnings().isEmpty(), "9601bit is not whole bytes: " + full.warnings());
            assertTrue(bare.explanation().isEmpty() && bare.warnings().isEmpty(), bare.toString());
        }
    }

    @Test
    void latencyModeUsesTcsLimitFormula() {
        TbfSpec t = (TbfSpec) planner.plan(req("tbf", "9600bit", "1600", null, "2s", null), TUN).qdisc();
        assertEquals(4000, t.limit().bytes()); // facts example A: 1200 * 2 + 1600
    }

    @Test
    void backpressureModeHoldsTheSendersBuffers() {
        Plan p = planner.plan(req("tbf", "1mbit", null, null, null, null), TUN);
        assertEquals(212992 + 1500, ((TbfSpec) p.qdisc()).limit().bytes());
        assertTrue(p.explanation().stream().anyMatch(s -> s.contains("blocks when the queue is full")), p.explanation().toString());
        ShapingRequest three = new ShapingRequest("tbf", Rate.parse("1mbit"), "1mbit", null, null, null, null,
                Mode.BACKPRESSURE, 3, 0, 0, null);
        assertEquals(3 * 212992 + 1500, ((TbfSpec) planner.plan(three, TUN).qdisc()).limit().bytes());
    }

    @Test
    void aSmallLimitIsExplainedAsSilentLoss() {
        Plan p = planner.plan(req("tbf", "1mbit", null, "64k", null, null), TUN);
        assertTrue(p.explanation().stream().anyMatch(s -> s.contains("drops, silently")), p.explanation().toString());
    }

    @Test
    void slowBackpressureWarnsOfTheDelay() {
        Plan p = planner.plan(req("tbf", "9600bit", null, null, null, null), TUN);
        assertTrue(p.warnings().stream().anyMatch(w -> w.contains("2min 59s") && w.contains("SO_SNDBUF")), p.warnings().toString());
        assertTrue(p.warnings().stream().anyMatch(w -> w.contains("txqueuelen 500")), p.warnings().toString());
        assertFalse(planner.plan(req("tbf", "100mbit", null, null, null, null), TUN).warnings().stream()
                .anyMatch(w -> w.contains("txqueuelen")));
    }

    @Test
    void aRateThatIsNotWholeBytesIsReported() {
        Plan p = planner.plan(req("tbf", "300bit", null, null, "10s", null), TUN);
        assertTrue(p.warnings().stream().anyMatch(w -> w.contains("296bit")), p.warnings().toString());
    }

    @Test
    void htbHasOneClassWithQuantumAtLeastOneFrame() {
        HtbSpec h = (HtbSpec) planner.plan(req("htb", "9600bit", null, null, "2s", null), TAP).qdisc();
        HtbClassSpec c = h.classes().get(0);
        assertEquals(1, h.defaultMinor());
        assertEquals(1514, c.quantum());
        assertEquals(c.rate(), c.ceil());
        assertEquals(1200 * 2 + 1514, c.limit().bytes());
        HtbClassSpec fast = ((HtbSpec) planner.plan(req("htb", "1gbit", null, null, "1ms", null), TAP).qdisc()).classes().get(0);
        assertEquals(200_000, fast.quantum(), "capped where htb would warn");
        HtbClassSpec mid = ((HtbSpec) planner.plan(req("htb", "1mbit", null, null, "1s", null), TAP).qdisc()).classes().get(0);
        assertEquals(12_500, mid.quantum(), "rate / r2q in between");
    }

    @Test
    void valuesThatBreakTrafficAreRefusedWithTheFieldNamed() {
        assertEquals("rate", assertThrows(PlanException.class,
                () -> planner.plan(req("tbf", "7bit", null, null, "1s", null), TUN)).field());
        assertEquals("limit", assertThrows(PlanException.class,
                () -> planner.plan(req("tbf", "1mbit", null, "0", null, null), TUN)).field());
        PlanException burst = assertThrows(PlanException.class,
                () -> planner.plan(req("tbf", "1mbit", "1513", "100k", null, null), TAP));
        assertEquals("burst", burst.field());
        assertTrue(burst.getMessage().contains("1514"), burst.getMessage());
        assertEquals("limit", assertThrows(PlanException.class,
                () -> planner.plan(req("tbf", "1mbit", "10k", "5k", null, null), TUN)).field());
        PlanException ticks = assertThrows(PlanException.class,
                () -> planner.plan(req("htb", "9600bit", "1mb", "2mb", null, null), TUN));
        assertTrue(ticks.getMessage().contains("274.9 s") && ticks.getMessage().contains("at most 329853b"), ticks.getMessage());
        assertEquals("latency", assertThrows(PlanException.class,
                () -> planner.plan(req("tbf", "1mbit", null, null, null, Mode.LATENCY), TUN)).field());
        assertEquals("latency", assertThrows(PlanException.class,
                () -> planner.plan(req("tbf", "1mbit", null, null, "1s", Mode.BACKPRESSURE), TUN)).field());
        assertEquals("qdisc", assertThrows(PlanException.class,
                () -> planner.plan(req("sfq", "1mbit", null, null, "1s", null), TUN)).field());
        ShapingRequest lowCeil = new ShapingRequest("htb", Rate.parse("1mbit"), "1mbit", Rate.parse("500kbit"), null,
                null, Duration.parse("1s"), null, 1, 0, 0, null);
        assertEquals("ceil", assertThrows(PlanException.class, () -> planner.plan(lowCeil, TUN)).field());
        ShapingRequest txq = new ShapingRequest("tbf", Rate.parse("1mbit"), "1mbit", null, null, null,
                Duration.parse("1s"), null, 1, 0, 0, 0L);
        assertEquals("txqueuelen", assertThrows(PlanException.class, () -> planner.plan(txq, TUN)).field());
    }

    @Test
    void tbfKeepsAFullFrameBucketEvenWhenItTakesLongerThanTheTickRange() {
        // 8 bit/s: one frame is 1500 s of tokens; tbf's BURST is bytes and the kernel computes in 64-bit ns
        TbfSpec t = (TbfSpec) planner.plan(req("tbf", "8bit", null, null, "3600s", null), TUN).qdisc();
        assertEquals(1500, t.burst().bytes());
        Plan h = planner.plan(req("htb", "8bit", null, null, "3600s", null), TUN);
        assertEquals(274, ((HtbSpec) h.qdisc()).classes().get(0).burst().bytes());
        assertTrue(h.explanation().stream().anyMatch(s -> s.contains("less than one frame")), h.explanation().toString());
    }

    @Test
    void everyRateFromEightBitsToOneHundredGigabitsPlans() {
        for (String r : new String[] {"8bit", "300bit", "9600bit", "1mbit", "1gbit", "34gbit", "35gbit", "40gbit",
            "100gbit"}) {
            TbfSpec t = (TbfSpec) planner.plan(req("tbf", r, null, null, "10ms", null), TUN).qdisc();
            assertTrue(t.burst().bytes() >= 1500, r);
            HtbSpec h = (HtbSpec) planner.plan(req("htb", r, null, null, "10ms", null), TUN).qdisc();
            HtbClassSpec c = h.classes().get(0);
            long ticks = Psched.DEFAULT.exactTicks(c.rate().bytesPerSecond(), c.burst().bytes());
            assertTrue(ticks > 0 && ticks <= Psched.MAX_TICKS, r + ": htb's bucket fits its 32-bit ticks");
        }
    }

    private static ShapingRequest flows(String rate, int n, String latency, Rate floor) {
        return req(null, rate, null, null, latency, null).withFlows(n, floor);
    }

    @Test
    void flowQueuesShareTheRateUnderTheLinkClass() {
        HtbSpec h = (HtbSpec) planner.plan(flows("1mbit", 16, null, null), TUN).qdisc();
        assertEquals(1, h.classes().size(), "only the link class is listed; the queues are the flows'");
        assertEquals(null, h.classes().get(0).limit(), "the link class is a parent: no leaf queue");
        assertEquals(16, h.flows().count());
        assertEquals(0x100, h.defaultMinor(), "unclassified traffic goes to the first queue");
        HtbClassSpec leaf = h.flows().leaf();
        assertEquals(125_000 / 16, leaf.rate().bytesPerSecond(), "an equal share each");
        assertEquals(1500, leaf.quantum(), "one full frame a turn: deficit round robin by bytes");
        assertEquals(212992 + 1500, leaf.limit().bytes(), "backpressure: every queue holds the senders' buffers");
        assertEquals(16, h.allClasses().size() - 1);
        assertTrue(planner.plan(flows("1mbit", 16, null, null), TUN).explanation().stream()
                .anyMatch(l -> l.contains("is served first")));
    }

    @Test
    void latencyModeBoundsEveryFlowsWait() {
        HtbSpec h = (HtbSpec) planner.plan(flows("1mbit", 16, "200ms", null), TUN).qdisc();
        // 200 ms at 1 Mbit/s is 25000 bytes; a sixteenth of it per queue, plus one frame
        assertEquals(25_000 / 16 + 1500, h.flows().leaf().limit().bytes());
    }

    @Test
    void anAdaptiveFloorKeepsTheQueuesWhenTheRateMoves() {
        Rate floor = Rate.parse("100kbit");
        HtbSpec a = (HtbSpec) planner.plan(flows("1mbit", 8, null, floor), TUN).qdisc();
        HtbSpec b = (HtbSpec) planner.plan(flows("2mbit", 8, null, floor), TUN).qdisc();
        assertEquals(a.flows(), b.flows(), "a rate change moves only the link class");
        assertEquals(12_500 / 8, a.flows().leaf().rate().bytesPerSecond());
    }

    @Test
    void flowsAreRefusedWithTbfAndOutOfRange() {
        PlanException tbf = assertThrows(PlanException.class, () -> planner.plan(req("tbf", "1mbit", null, null, null,
                null).withFlows(16, null), TUN));
        assertEquals("flows", tbf.field());
        assertTrue(tbf.getMessage().contains("flow queues are htb classes"), tbf.getMessage());
        PlanException big = assertThrows(PlanException.class, () -> planner.plan(flows("1mbit", 5000, null, null), TUN));
        assertTrue(big.getMessage().contains("accepted: 2 to 1024"), big.getMessage());
    }

    @Test
    void theU32FallbackSaysWhatItLacksAndReachesAtMost256Queues() {
        ShapingRequest u32 = flows("1mbit", 12, null, null).withClassifier(FlowQueues.Classifier.U32,
                "the kernel refused eBPF here: bpf(BPF_PROG_LOAD): Operation not permitted (errno 1)");
        Plan p = planner.plan(u32, TUN);
        assertEquals(FlowQueues.Classifier.U32, ((HtbSpec) p.qdisc()).flows().classifier());
        String words = String.join("\n", p.explanation());
        assertTrue(words.contains("flow classifier: u32, the fallback where eBPF is refused (the kernel refused eBPF "
                + "here: bpf(BPF_PROG_LOAD): Operation not permitted"), words);
        assertTrue(words.contains("flows from one source port (a server's) share a queue"), words);
        assertTrue(words.contains("16 buckets over 12 queues, so 4 queues take two buckets each"), words);
        assertFalse(words.contains("with probability 1/12"), "the u32 hash is no random spread: " + words);
        PlanException big = assertThrows(PlanException.class, () -> planner.plan(flows("1mbit", 300, null, null)
                .withClassifier(FlowQueues.Classifier.U32, null), TUN));
        assertTrue(big.getMessage().contains("at most 256 buckets"), big.getMessage());
        assertEquals(FlowQueues.Classifier.BPF, ((HtbSpec) planner.plan(flows("1mbit", 300, null, null), TUN).qdisc())
                .flows().classifier(), "eBPF's reach is the whole range");
    }
}

