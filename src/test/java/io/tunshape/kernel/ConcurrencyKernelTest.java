package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Two applies at the same moment on one device (issue 14): each pair starts together on a barrier,
 * both must succeed (the second waits for the namespace's lock), and afterwards the kernel must hold
 * exactly one of the two plans, complete: its own dry run says "unchanged" for exactly one of them,
 * and tc sees no htb root without its class and leaf.
 */
class ConcurrencyKernelTest {
    /** Pairs of different kinds and rates, cycled through. */
    private static final String[][][] PAIRS = {
        {{"--rate", "1mbit"}, {"--qdisc", "htb", "--rate", "3mbit"}},
        {{"--qdisc", "htb", "--rate", "2mbit"}, {"--qdisc", "htb", "--rate", "5mbit", "--latency", "50ms"}},
        {{"--rate", "1mbit", "--latency", "100ms"}, {"--rate", "7mbit", "--limit", "300k"}},
        {{"-p", "manet-80211a-olsr"}, {"--rate", "2mbit"}},
        {{"--qdisc", "htb", "--rate", "3mbit", "--ceil", "6mbit"}, {"-p", "ax25-9600-g3ruh"}},
    };

    static final int PAIR_COUNT = Integer.getInteger("tunshape.concurrency.pairs", 100);

    private static String[] cmd(KernelNs ns, String dev, String verb, String[] opts, String... extra) {
        List<String> c = new ArrayList<>(List.of("--netns", ns.name(), "--json", verb, dev));
        c.addAll(List.of(opts));
        c.addAll(List.of(extra));
        return c.toArray(new String[0]);
    }

    /** Whether the kernel holds this plan already: apply's own dry run sends nothing for it. */
    private static boolean holds(KernelNs ns, String dev, String[] opts) {
        CliRun r = CliRun.of(cmd(ns, dev, "apply", opts, "--dry-run"));
        assertEquals(0, r.status(), r.toString());
        return !readJson(r.out()).get("changed").asBoolean();
    }

    /**
     * tc's own view: an htb root of ours has at least one class, and every leaf class has our bfifo.
     * Both lists are read in one go under the namespace's lock taken shared (flock(1) on the file
     * tunshape locks), as any reader that respects the lock sees the device: a daemon's pass that is
     * building a tree holds it exclusive, and tc without the lock could catch the classes made and
     * their leaves not yet (as a CI run did, 2026-12-06).
     */
    static void assertCompleteTree(KernelNs ns, String dev, String context) {
        java.nio.file.Path lock = java.nio.file.Path.of(lockFile(ns));
        if (!java.nio.file.Files.exists(lock)) {
            // nothing of tunshape's has locked this namespace yet: a tree of ours cannot be there
            assertTrue(!ns.tc("qdisc", "show", "dev", dev).contains("qdisc htb 7474:"),
                    context + ": an htb root of ours, but no lock file " + lock);
            return;
        }
        String both = KernelNs.run("flock", "-s", "-w", "30", lock.toString(), "ip", "netns", "exec", ns.name(),
                "sh", "-c", "tc qdisc show dev \"$0\"; echo '@@ classes'; tc class show dev \"$0\"", dev);
        int cut = both.indexOf("@@ classes");
        assertTrue(cut >= 0, context + ": the read under the lock printed no class list\n" + both);
        String q = both.substring(0, cut);
        String c = both.substring(cut);
        if (!q.contains("qdisc htb 7474:")) {
            return;
        }
        assertTrue(c.contains("class htb 7474:"), context + ": htb root without its class\n" + q + c);
        assertTrue(java.util.regex.Pattern.compile("qdisc bfifo [0-9a-f]+: parent 7474:").matcher(q).find(),
                context + ": htb class without its leaf\n" + q + c);
    }

    @Test
    void simultaneousAppliesLeaveExactlyOneCompletePlan() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("tun0");
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                int bothChanged = 0;
                for (int i = 0; i < PAIR_COUNT; i++) {
                    String[][] pair = PAIRS[i % PAIRS.length];
                    CliRun cleared = CliRun.of("--netns", ns.name(), "clear", "tun0");
                    assertEquals(0, cleared.status(), cleared.toString());
                    CyclicBarrier start = new CyclicBarrier(2);
                    List<Future<CliRun>> runs = new ArrayList<>();
                    for (String[] opts : pair) {
                        runs.add(pool.submit(() -> {
                            start.await(10, TimeUnit.SECONDS);
                            return CliRun.of(cmd(ns, "tun0", "apply", opts));
                        }));
                    }
                    int changed = 0;
                    for (Future<CliRun> f : runs) {
                        CliRun r = f.get(60, TimeUnit.SECONDS);
                        assertEquals(0, r.status(), "pair " + i + ": " + r);
                        JsonNode j = readJson(r.out());
                        changed += j.get("changed").asBoolean() ? 1 : 0;
                    }
                    bothChanged += changed == 2 ? 1 : 0;
                    assertCompleteTree(ns, "tun0", "pair " + i);
                    boolean a = holds(ns, "tun0", pair[0]);
                    boolean b = holds(ns, "tun0", pair[1]);
                    if (a == b) {
                        fail("pair " + i + ": the kernel holds " + (a ? "both plans" : "neither plan") + "\n"
                                + ns.tc("qdisc", "show", "dev", "tun0") + ns.tc("class", "show", "dev", "tun0"));
                    }
                }
                System.out.printf("ConcurrencyKernelTest: %d pairs, %d in which both applies changed the device "
                        + "one after the other%n", PAIR_COUNT, bothChanged);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** The lock file as another program finds it: the namespace's nsfs device and inode, as stat(1) prints them. */
    private static String lockFile(KernelNs ns) {
        String key = KernelNs.run("stat", "-L", "-c", "%d-%i", "/var/run/netns/" + ns.name()).strip();
        return io.tunshape.netlink.NamespaceLock.dir().resolve("net-" + key + ".lock").toString();
    }

    @Test
    void aHeldLockMakesApplyWaitThenFailWithStatusFiveAndAKilledHolderFreesIt() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("tun0");
            assertEquals(0, CliRun.of("--netns", ns.name(), "apply", "tun0", "--rate", "1mbit").status());
            // util-linux's flock(1) holds the namespace's lock, as another tunshape process would
            java.nio.file.Files.createDirectories(io.tunshape.netlink.NamespaceLock.dir());
            Process holder = new ProcessBuilder("flock", "-x", lockFile(ns), "sleep", "60").start();
            try {
                Thread.sleep(300);
                long t0 = System.nanoTime();
                CliRun r = CliRun.of("--netns", ns.name(), "apply", "tun0", "--rate", "2mbit", "--wait", "400ms");
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertEquals(5, r.status(), r.toString());
                assertTrue(r.err().contains("another change to this network namespace is in progress")
                        && r.err().contains("nothing was changed"), r.err());
                assertTrue(ms >= 400, "waited " + ms + " ms");
                assertTrue(ns.tc("qdisc", "show", "dev", "tun0").contains("rate 1Mbit"), "nothing changed");
                CliRun c = CliRun.of("--netns", ns.name(), "clear", "tun0", "--wait", "0");
                assertEquals(5, c.status(), c.toString());

                // a waiter gets the lock as soon as the holder dies, even by SIGKILL (the kernel drops flocks)
                java.util.concurrent.CompletableFuture<CliRun> waiting = java.util.concurrent.CompletableFuture
                        .supplyAsync(() -> CliRun.of("--netns", ns.name(), "apply", "tun0", "--rate", "2mbit",
                                "--wait", "20s"));
                Thread.sleep(300);
                assertTrue(!waiting.isDone(), "apply waits while the lock is held");
                holder.descendants().forEach(ProcessHandle::destroyForcibly);
                holder.destroyForcibly();
                CliRun after = waiting.get(20, TimeUnit.SECONDS);
                assertEquals(0, after.status(), after.toString());
                assertTrue(ns.tc("qdisc", "show", "dev", "tun0").contains("rate 2Mbit"));
            } finally {
                holder.descendants().forEach(ProcessHandle::destroyForcibly);
                holder.destroyForcibly();
            }
            CliRun bad = CliRun.of("--netns", ns.name(), "apply", "tun0", "--rate", "2mbit", "--wait", "soon");
            assertEquals(2, bad.status(), bad.toString());
            assertTrue(bad.err().contains("--wait"), bad.err());
        }
    }
}
