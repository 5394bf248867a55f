package io.tunshape.daemon;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The event loop's work without the kernel: its queue (dedupe, settling, backoff), its timers, the
 * passes it runs off the queue, and the registry's lookups, all on an injected clock.
 */
class WorkQueueTest {
    private final AtomicLong clock = new AtomicLong(1_000);
    private final WorkQueue<String> q = new WorkQueue<>(clock::get);

    @Test
    void aKeyAddedTwiceIsDueOnceAndNotAgainUntilAddedAgain() {
        q.add("a");
        q.add("b");
        q.add("a");
        assertTrue(q.nextDueMs() <= clock.get(), "due now");
        assertEquals(List.of("a", "b"), q.takeDue());
        assertEquals(List.of(), q.takeDue());
        assertEquals(Long.MAX_VALUE, q.nextDueMs());
    }

    @Test
    void eventsSettleUntilQuietOrAtTheLatestAfterTheSettlingMaximum() {
        q.changed("ns");
        assertEquals(List.of(), q.takeDue(), "not yet quiet");
        assertEquals(1_000 + WorkQueue.QUIET_MS, q.nextDueMs());
        // an event every 10 ms keeps it from being quiet, until 250 ms after the first
        for (int t = 10; t < 300; t += 10) {
            clock.set(1_000 + t);
            if (t < WorkQueue.SETTLE_MAX_MS) {
                q.changed("ns");
                assertEquals(List.of(), q.takeDue(), "at " + t + " ms");
            }
        }
        assertEquals(1_000 + WorkQueue.SETTLE_MAX_MS, q.nextDueMs());
        assertEquals(List.of("ns"), q.takeDue());
        // and settling starts afresh for the next burst
        q.changed("ns");
        assertEquals(clock.get() + WorkQueue.QUIET_MS, q.nextDueMs());
    }

    @Test
    void failuresBackOffDoublingUpToThirtySecondsAndASuccessResetsThem() {
        long[] expected = {100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000};
        for (int i = 0; i < expected.length; i++) {
            q.addRateLimited("ns");
            assertEquals(i + 1, q.failures("ns"));
            assertEquals(clock.get() + expected[i], q.nextDueMs(), "failure " + (i + 1));
            clock.addAndGet(expected[i] - 1);
            assertEquals(List.of(), q.takeDue(), "one ms early");
            clock.addAndGet(1);
            assertEquals(List.of("ns"), q.takeDue());
        }
        assertEquals(expected.length, q.retries());
        q.forget("ns");
        assertEquals(0, q.failures("ns"));
        q.addRateLimited("ns");
        assertEquals(clock.get() + 100, q.nextDueMs(), "the backoff starts again from 100 ms");
        assertEquals(expected.length + 1, q.retries(), "the total keeps counting");
    }

    @Test
    void aChangeMakesAPendingRetryDueOnceSettledButKeepsItsFailures() {
        q.addRateLimited("ns");
        q.addRateLimited("ns");
        q.takeDue(); // nothing due yet: the retry waits 200 ms
        q.changed("ns");
        assertEquals(clock.get() + WorkQueue.QUIET_MS, q.nextDueMs());
        assertEquals(2, q.failures("ns"));
    }

    @Test
    void aRemovedKeyIsNeitherDueNorCounted() {
        q.addRateLimited("ns");
        q.remove("ns");
        assertEquals(0, q.failures("ns"));
        assertEquals(Long.MAX_VALUE, q.nextDueMs());
    }

    @Test
    void timersRunOnceWhenDueAndMayArmThemselvesAgain() {
        Timers t = new Timers(clock::get);
        List<String> ran = new ArrayList<>();
        t.after("tick", 250, new Runnable() {
            @Override
            public void run() {
                ran.add("tick@" + clock.get());
                t.after("tick", 250, this);
            }
        });
        t.after("trim", 6000, () -> ran.add("trim@" + clock.get()));
        t.afterUnlessArmed("trim", 10, () -> ran.add("never"));
        assertEquals(1_250, t.nextMs());
        assertEquals(0, t.runDue());
        clock.set(1_250);
        assertEquals(1, t.runDue());
        // moving a timer replaces its deadline
        t.after("trim", 100, () -> ran.add("trim@" + clock.get()));
        clock.set(1_500);
        assertEquals(2, t.runDue());
        t.cancel("tick");
        assertEquals(Long.MAX_VALUE, t.nextMs());
        assertEquals(List.of("tick@1250", "tick@1500", "trim@1500"), ran.stream().sorted().toList());
    }

    private static Namespace ns(long ino, String... names) {
        List<String> mounts = new ArrayList<>();
        for (String n : names) {
            mounts.add("/run/netns/" + n);
        }
        return new Namespace(ino, new NsFacts(ino, false, mounts, 0, null, null, null, null, null));
    }

    @Test
    void passesRunOffTheQueueAFailureBacksOffASuccessIsForgottenAndAReleasedNamespaceIsSkipped() {
        WorkQueue<Namespace> work = new WorkQueue<>(clock::get);
        Namespaces reg = new Namespaces(pid -> pid == 42 ? 7 : 0);
        Namespace a = ns(7, "a");
        Namespace b = ns(8, "b");
        Namespace gone = ns(9, "c");
        reg.add(a);
        reg.add(b);
        work.add(a);
        work.add(b);
        work.add(gone); // queued, then released before its turn
        List<String> log = new ArrayList<>();
        List<Namespace> ran = new ArrayList<>();
        Serving.Pass pass = n -> {
            ran.add(n);
            return n == b ? "t0: busy" : null;
        };
        Serving.runDue(work, reg, pass, log::add);
        assertEquals(List.of(a, b), ran);
        assertEquals(Namespace.State.SERVING, a.state);
        assertEquals(Namespace.State.RETRYING, b.state);
        assertEquals("t0: busy", b.reason);
        assertEquals(1, b.attempts);
        assertEquals(List.of("a: serving (0 device(s) shaped)"), log);
        // b comes back after 100 ms, and only then
        ran.clear();
        clock.addAndGet(99);
        Serving.runDue(work, reg, pass, log::add);
        assertEquals(List.of(), ran);
        clock.addAndGet(1);
        Serving.runDue(work, reg, pass, log::add);
        assertEquals(List.of(b), ran);
        assertEquals(2, b.attempts);
        assertEquals(clock.get() + 200, work.nextDueMs());
        assertEquals(2, work.retries());
    }

    @Test
    void theRegistryFindsANamespaceByInodeNameSenderAndIdAndForgetsItWhole() {
        Namespaces reg = new Namespaces(pid -> pid == 42 ? 7 : 0);
        Namespace a = ns(7, "red", "red2");
        reg.add(a);
        reg.identified(a, 3);
        assertEquals(a, reg.byIno(7));
        assertEquals(a, reg.forReport("red2", 1));
        assertEquals(a, reg.forReport(null, 42), "a report naming no namespace: the sender's");
        assertNull(reg.forReport(null, 43));
        assertEquals(a, reg.byNsid(3));
        // remounted under another name
        NsFacts before = a.facts;
        a.facts = new NsFacts(7, false, List.of("/run/netns/blue"), 0, null, null, null, null, null);
        reg.renamed(a, before);
        assertNull(reg.byName("red"));
        assertEquals(a, reg.byName("blue"));
        reg.remove(a);
        assertNull(reg.byIno(7));
        assertNull(reg.byName("blue"));
        assertNull(reg.byNsid(3));
        assertEquals(-1, a.nsid);
        assertTrue(reg.all().isEmpty());
    }
}
