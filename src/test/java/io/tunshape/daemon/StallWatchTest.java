package io.tunshape.daemon;

import io.tunshape.link.LinkInfo;
import io.tunshape.shape.DeviceState;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The stall guard's wiring on an injected clock and a fake kernel: which devices, when, what it does. */
class StallWatchTest {
    private static final int WITHOUT = 0x1001;
    private static final int WITH = 0x1081;

    private long clock = 1_000_000;
    private final Timers timers = new Timers(() -> clock);
    private final List<String> log = new ArrayList<>();
    private final List<Namespace> reshaped = new ArrayList<>();
    private final Fake kernel = new Fake();
    private final DaemonConfig config = DaemonConfig.parse(
            "stall_after: 2s\ninterfaces:\n  - {match: t0, profile: p}\n".getBytes(StandardCharsets.UTF_8), "d.yaml");
    private final StallWatch watch = new StallWatch(timers, () -> clock, () -> config, kernel, ns -> true,
            reshaped::add, log::add);
    private final Namespace ns = new Namespace(4026532001L, new NsFacts(4026532001L, true, List.of(), 0, null, null,
            null, null, null));
    private final Namespace.Device dev = device(ns, 7, "t0");

    private static final class Fake implements StallWatch.Kernel {
        int flags = WITHOUT;
        long backlog;
        long read;
        long stallDrops;
        int frees;
        RuntimeException refuse;
        int flagReads;

        @Override
        public Map<String, Integer> flags(Namespace ns, Map<String, Integer> indexes) {
            flagReads++;
            Map<String, Integer> out = new HashMap<>();
            indexes.keySet().forEach(n -> out.put(n, flags));
            return out;
        }

        @Override
        public Map<Integer, StallWatch.Sample> sample(Namespace ns) {
            return Map.of(7, new StallWatch.Sample(backlog, read, stallDrops));
        }

        @Override
        public void free(Namespace ns, Namespace.Device d) {
            if (refuse != null) {
                RuntimeException r = refuse;
                refuse = null;
                throw r;
            }
            frees++;
            backlog = 0;
        }
    }

    private static Namespace.Device device(Namespace ns, int index, String name) {
        LinkInfo l = new LinkInfo(index, name, "tun", 65534, 0, "up", 1500, 500, 0, 0, 0);
        Namespace.Device d = new Namespace.Device(l, new DaemonConfig.Entry(name, null, "p", false),
                DeviceState.bare(l, null));
        ns.devices.put(name, d);
        return d;
    }

    /** Moves the clock to the next sample and runs it. */
    private void tick() {
        clock = timers.nextMs();
        timers.runDue();
    }

    @Test
    void aDeviceWithoutKernelFlowControlIsNeverGuardedNorSampled() {
        kernel.backlog = 50; // its reader has stopped with packets queued
        watch.passed(ns, null);
        assertFalse(dev.stall.guarded);
        assertEquals(Long.MAX_VALUE, timers.nextMs(), "no sampling while nothing is guarded");
        clock += 60_000;
        assertEquals(0, timers.runDue());
        assertEquals(0, kernel.frees);
        assertTrue(log.isEmpty(), log.toString());
    }

    @Test
    void aStalledReaderIsFreedOnceAfterStallAfterAndThePlanComesBackWhenItReads() {
        kernel.flags = WITH;
        watch.passed(ns, null);
        assertTrue(dev.stall.guarded);
        assertEquals(clock + 200, timers.nextMs(), "a tenth of stall_after");
        kernel.backlog = 40;
        kernel.read = 1000;
        long waitFrom = timers.nextMs();
        while (kernel.frees == 0 && clock - waitFrom < 10_000) {
            tick();
        }
        assertEquals(1, kernel.frees);
        assertEquals(2000, clock - waitFrom, "stalled at stall_after, not before");
        assertTrue(dev.stall.stalled);
        assertEquals(40, dev.stall.dropped());
        assertEquals(1, log.size(), log.toString());
        assertTrue(log.get(0).contains("t0: reader stalled") && log.get(0).contains("40 queued packet(s) dropped"),
                log.get(0));
        kernel.stallDrops = 7; // what came while stalled, dropped by the stall qdisc
        tick();
        tick();
        assertEquals(1, kernel.frees, "one stall, one action");
        assertEquals(47, dev.stall.dropped());
        Daemon.Stall shown = StallWatch.shown(dev.stall, clock);
        assertTrue(shown.stalled());
        assertEquals(400, shown.stalledForMs());
        kernel.read = 1001; // the reader reads again
        tick();
        assertFalse(dev.stall.stalled);
        assertTrue(dev.stall.resuming);
        assertEquals(List.of(ns), reshaped);
        assertTrue(ns.dirty.contains(7));
        assertEquals(2, log.size(), log.toString());
        assertTrue(log.get(1).contains("reads again after a stall of 0.6 s; 47 packet(s) dropped"), log.get(1));
        shown = StallWatch.shown(dev.stall, clock);
        assertEquals(1, shown.stalls());
        assertEquals(47, shown.droppedTotal());
        assertEquals(0, shown.dropped());
        assertTrue(timers.nextMs() < Long.MAX_VALUE, "still guarded, still sampled");
    }

    @Test
    void aRefusedFreeIsLoggedCountedShownAndRetried() {
        kernel.flags = WITH;
        watch.passed(ns, null);
        kernel.backlog = 3;
        kernel.refuse = new IllegalStateException("another tunshape process holds the namespace");
        for (int i = 0; i < 11; i++) { // the wait starts at the first sample; stall_after is ten more
            tick();
        }
        assertEquals(1, dev.stall.failures.get());
        assertEquals("another tunshape process holds the namespace", StallWatch.shown(dev.stall, clock).error());
        assertTrue(log.get(0).contains("could not free its senders") && log.get(0).contains("retrying"), log.toString());
        assertEquals(0, kernel.frees);
        tick(); // the next sample retries
        assertEquals(1, kernel.frees);
        assertNull(dev.stall.error);
        assertEquals(2, log.size(), log.toString());
        assertTrue(log.get(1).contains("reader still stalled") && log.get(1).contains("senders freed"), log.get(1));
    }

    @Test
    void aDriverThatAttachesAgainWithoutTheFlagEndsTheStallAndTheSampling() {
        kernel.flags = WITH;
        watch.passed(ns, null);
        kernel.backlog = 3;
        for (int i = 0; i < 11; i++) { // the wait starts at the first sample; stall_after is ten more
            tick();
        }
        assertTrue(dev.stall.stalled);
        kernel.flags = WITHOUT;
        watch.passed(ns, java.util.Set.of(7));
        assertFalse(dev.stall.stalled);
        assertFalse(dev.stall.guarded);
        assertEquals(List.of(ns), reshaped);
        assertEquals(Long.MAX_VALUE, timers.nextMs());
        assertTrue(log.get(log.size() - 1).contains("attached again without kernel flow control"), log.toString());
    }

    @Test
    void samplesComeEveryTenthOfStallAfterAtMostTenTimesASecond() {
        assertEquals(100, StallWatch.periodMs(100));
        assertEquals(200, StallWatch.periodMs(2000));
        assertEquals(1000, StallWatch.periodMs(10_000));
    }
}
