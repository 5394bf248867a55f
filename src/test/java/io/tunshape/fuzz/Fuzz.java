package io.tunshape.fuzz;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The invariants every decoder is held to, on any input: it returns or throws one of its
 * documented exceptions; it finishes (a watchdog halts the JVM after {@link #HANG_MS} of CPU time on
 * one input, or {@link #HANG_WALL_MS} of wall time, writing the input to target/fuzz-hangs); and what
 * it allocates is bounded by a multiple of the
 * input (measured with the thread's allocation counter).
 */
public final class Fuzz {
    static final long HANG_MS = 10_000;
    /**
     * The decoders only compute, so a hang burns CPU: the long run goes at idle priority
     * (chrt --idle) on a shared machine, where a thread may wait far longer than 10 s for a CPU
     * between two instructions; wall time alone would call that a hang.
     */
    static final long HANG_WALL_MS = 600_000;
    private static final long WARM_UP = 200;
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    private static final Map<String, LongAdder> TRIED = new ConcurrentHashMap<>();
    private static volatile String current;
    private static volatile byte[] currentInput;
    private static volatile long startedAt;
    private static volatile long startedCpu;
    private static volatile long runner;

    static {
        Thread dog = new Thread(Fuzz::watch, "fuzz-watchdog");
        dog.setDaemon(true);
        dog.start();
    }

    private Fuzz() {
    }

    /** A decoder's call on one input. */
    @FunctionalInterface
    public interface Body {
        void run() throws Exception;
    }

    /**
     * Runs {@code body} on {@code input}: fails unless it returns or throws one of {@code allowed};
     * fails when it allocated more than {@code bytesPerInputByte} times the input plus 1 MiB.
     */
    @SafeVarargs
    public static void check(String decoder, byte[] input, long bytesPerInputByte, Body body,
                             Class<? extends Throwable>... allowed) {
        check(decoder, input, bytesPerInputByte, 1 << 20, body, allowed);
    }

    /** As above, with a fixed allowance of {@code fixedBytes} beside the per-byte one. */
    @SafeVarargs
    public static void check(String decoder, byte[] input, long bytesPerInputByte, long fixedBytes, Body body,
                             Class<? extends Throwable>... allowed) {
        LongAdder count = TRIED.computeIfAbsent(decoder, k -> new LongAdder());
        count.increment();
        // the first inputs load and initialise classes (exceptions, JNA's strerror): not the decoder's memory
        boolean measure = count.sum() > WARM_UP;
        long tid = Thread.currentThread().getId();
        long before = THREADS.getThreadAllocatedBytes(tid);
        runOnce(decoder, input, body, allowed);
        long allocated = THREADS.getThreadAllocatedBytes(tid) - before;
        long bound = bytesPerInputByte * input.length + fixedBytes;
        if (measure && allocated > bound) {
            // once more: a path taken for the first time loads classes, which the second run does not
            before = THREADS.getThreadAllocatedBytes(tid);
            runOnce(decoder, input, body, allowed);
            allocated = THREADS.getThreadAllocatedBytes(tid) - before;
        }
        if (measure && allocated > bound) {
            throw new AssertionError(decoder + ": allocated " + allocated + " bytes (bound " + bound + ") on a "
                    + input.length + "-byte input " + hex(input));
        }
    }

    @SafeVarargs
    private static void runOnce(String decoder, byte[] input, Body body, Class<? extends Throwable>... allowed) {
        // the clocks first, the name last: the watchdog reads the name first
        runner = Thread.currentThread().getId();
        startedCpu = THREADS.getCurrentThreadCpuTime();
        startedAt = System.nanoTime();
        currentInput = input;
        current = decoder;
        try {
            body.run();
        } catch (Throwable t) {
            boolean ok = false;
            for (Class<? extends Throwable> c : allowed) {
                ok |= c.isInstance(t);
            }
            if (!ok) {
                throw new AssertionError(decoder + ": undocumented " + t + " on input " + hex(input), t);
            }
        } finally {
            current = null;
        }
    }

    static String hex(byte[] b) {
        return b.length > 512 ? HexFormat.of().formatHex(b, 0, 512) + "... (" + b.length + " bytes)"
                : HexFormat.of().formatHex(b);
    }

    /** Inputs tried per decoder in this JVM, for the summary line. */
    public static String summary() {
        Map<String, Long> m = new TreeMap<>();
        TRIED.forEach((k, v) -> m.put(k, v.sum()));
        return m.toString();
    }

    private static void watch() {
        while (true) {
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            }
            String d = current;
            byte[] in = currentInput;
            long wallMs = (System.nanoTime() - startedAt) / 1_000_000;
            long cpuMs = d == null ? 0 : (THREADS.getThreadCpuTime(runner) - startedCpu) / 1_000_000;
            if (d != null && current == d && (cpuMs > HANG_MS || wallMs > HANG_WALL_MS)) {
                try {
                    Path dir = Path.of("target", "fuzz-hangs");
                    Files.createDirectories(dir);
                    Files.writeString(dir.resolve(d + "-" + System.currentTimeMillis() + ".hex"), hex(in) + "\n");
                } catch (IOException e) {
                    // the message below still names the decoder
                }
                System.err.println("FUZZ HANG: " + d + " ran " + cpuMs + " ms of CPU time, " + wallMs + " ms in all, on "
                        + hex(in));
                Runtime.getRuntime().halt(97);
            }
        }
    }
}
