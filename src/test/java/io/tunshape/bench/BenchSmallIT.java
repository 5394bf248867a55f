package io.tunshape.bench;

import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every script in bench/ in its small mode (SMALL=1: the smallest meaningful configuration in about
 * 20 s, its table printed, a non-zero exit on any failure), so a broken benchmark fails the build.
 * The scripts are found, not listed: a new one is run too. A script fails here when it exits
 * non-zero, when it runs past its time (it may have no small mode: it then ran its full
 * measurement), or when its text never reads SMALL. Each script's output is printed and kept in
 * target/bench-small/NAME.log.
 *
 * <p>The scripts need root (namespaces, tun devices) and what each names in its header (python3,
 * python3-pyroute2, bc, socat, iperf3, gcc); under CI=true a missing privilege fails, never skips.
 * {@code -Dbench.small.parallel=N} (default 3) runs N scripts at once, to keep the whole run near
 * two minutes on two cores; {@code -Dbench.small.timeout=S} (default 90: the convention's 20 s with
 * room for scripts sharing two cores, and for flows-cost's two pump runs) is each script's time.
 */
class BenchSmallIT {
    private static final Path BENCH = Path.of("bench");
    private static final Path LOGS = Path.of("target", "bench-small");
    /** how a script reads the small mode's switch: SMALL=${SMALL:-0}, "$SMALL", ${SMALL:-} (not an array SMALL[@]) */
    private static final Pattern READS_SMALL = Pattern.compile("\\$\\{SMALL:-|\\$SMALL\\b(?!\\[)|\\$\\{SMALL}");

    record Outcome(String script, int exit, boolean timedOut, boolean readsSmall, double seconds, String output,
                   List<String> leftBehind) {
        boolean failed() {
            return timedOut || exit != 0 || !readsSmall || !leftBehind.isEmpty();
        }

        String verdict() {
            String left = leftBehind.isEmpty() ? "" : "; left namespaces behind (now deleted): " + leftBehind;
            if (timedOut) {
                return (readsSmall ? "did not finish in its time with SMALL=1 (stopped): its small mode should take about 20 s"
                        : "did not finish in its time (stopped): it never reads SMALL, so it has no small mode yet and ran "
                        + "its full measurement") + " (" + seconds + " s)" + left;
            }
            if (!left.isEmpty()) {
                return "exited " + exit + " with SMALL=1" + left + " (" + seconds + " s)";
            }
            if (exit != 0) {
                return "exited " + exit + " with SMALL=1 (" + seconds + " s)";
            }
            return readsSmall ? "passed (" + seconds + " s)"
                    : "exited 0, but never reads SMALL: it has no small mode (" + seconds + " s)";
        }
    }

    @Test
    void everyBenchScriptRunsInItsSmallModeAndSucceeds() throws Exception {
        KernelNs.requireRoot();
        assertTrue(Files.isRegularFile(Path.of("target", "tunshape.jar")), "the scripts run the built jar: run after package");
        List<Path> scripts;
        try (Stream<Path> s = Files.list(BENCH)) {
            scripts = s.filter(p -> p.getFileName().toString().endsWith(".sh")).sorted().toList();
        }
        assertFalse(scripts.isEmpty(), "no script in " + BENCH.toAbsolutePath());
        Files.createDirectories(LOGS);
        int parallel = Integer.getInteger("bench.small.parallel", 3);
        long timeout = Long.getLong("bench.small.timeout", 90);
        long t0 = System.nanoTime();
        List<Outcome> outcomes = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(parallel);
        try {
            List<Future<Outcome>> futures = new ArrayList<>();
            for (Path script : scripts) {
                futures.add(pool.submit(() -> run(script, timeout)));
            }
            for (Future<Outcome> f : futures) {
                outcomes.add(f.get());
            }
        } finally {
            pool.shutdownNow();
        }
        double total = (System.nanoTime() - t0) / 1e9;
        StringBuilder summary = new StringBuilder();
        for (Outcome o : outcomes) {
            System.out.printf("===== bench/%s: %s%n%s%n", o.script(), o.verdict(), o.output());
            summary.append(String.format("  bench/%-20s %s%n", o.script(), o.verdict()));
        }
        System.out.printf("===== bench small modes, %d scripts, %d at a time, %.1f s in all (load %s):%n%s",
                outcomes.size(), parallel, total, Files.readString(Path.of("/proc/loadavg")).trim(), summary);
        List<String> failed = outcomes.stream().filter(Outcome::failed)
                .map(o -> "bench/" + o.script() + " " + o.verdict() + "; its output's end:\n" + tail(o.output(), 40))
                .toList();
        assertEquals(List.of(), failed, "bench scripts failing in their small mode (logs in " + LOGS + "):\n" + summary);
    }

    private static Outcome run(Path script, long timeoutSeconds) throws IOException, InterruptedException {
        String name = script.getFileName().toString();
        Path log = LOGS.resolve(name.replaceAll("\\.sh$", "") + ".log");
        ProcessBuilder pb = new ProcessBuilder("bash", script.toString())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .redirectInput(new File("/dev/null"));
        pb.environment().put("SMALL", "1");
        long t0 = System.nanoTime();
        Process p = pb.start();
        boolean finished = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
        if (!finished) {
            stop(p);
        }
        double seconds = Math.round((System.nanoTime() - t0) / 1e8) / 10.0;
        String output = Files.readString(log, StandardCharsets.UTF_8);
        boolean readsSmall = READS_SMALL.matcher(Files.readString(script)).find();
        return new Outcome(name, finished ? p.exitValue() : -1, !finished, readsSmall, seconds, output,
                removeLeftovers(p.pid()));
    }

    /**
     * TERM to the script's processes, children first (bash runs its trap, which removes its namespaces,
     * only once the command it waits for has ended), then KILL to what is left after 30 s.
     */
    private static void stop(Process p) throws InterruptedException {
        List<ProcessHandle> tree = new ArrayList<>(p.descendants().toList());
        tree.forEach(ProcessHandle::destroy);
        p.destroy();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            tree.forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
    }

    /**
     * The namespaces a script left behind: the bench scripts name theirs after their own process id
     * (tsfair$$, tsbenchA$$, tsadapt$$, zs$(($$ % 10000))-...; the kernel tests' are tstest...), so such
     * a name with the script's pid is its own. They are deleted, and the script fails for it.
     */
    private static List<String> removeLeftovers(long pid) throws IOException, InterruptedException {
        Process ls = new ProcessBuilder("ip", "netns", "list").redirectErrorStream(true).start();
        String out = new String(ls.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        ls.waitFor(10, TimeUnit.SECONDS);
        Pattern own = Pattern.compile("^(ts(?!test)[A-Za-z]*" + pid + "(?![0-9])|zs" + pid % 10000 + "-)");
        List<String> left = new ArrayList<>();
        for (String line : out.split("\n")) {
            String ns = line.strip().split("\s+")[0];
            if (!ns.isEmpty() && own.matcher(ns).find()) {
                left.add(ns);
                new ProcessBuilder("ip", "netns", "del", ns).redirectErrorStream(true).start().waitFor(10, TimeUnit.SECONDS);
            }
        }
        return left;
    }

    private static String tail(String s, int lines) {
        String[] l = s.split("\n", -1);
        return String.join("\n", List.of(l).subList(Math.max(0, l.length - lines), l.length));
    }
}
