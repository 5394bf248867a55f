package io.tunshape.testing;

/**
 * The time a test waits for something, widened where the JVM runs under emulation: kernels/junit
 * sets {@code TUNSHAPE_TEST_BOUND_FACTOR} (10 under TCG, where a JVM runs about twenty times slower
 * than natively) and {@code TUNSHAPE_TEST_BOUND_REASON} inside a guest. Every widened bound is
 * printed with its reason (each distinct one once a run), never silently; natively (no variable) a
 * bound is what the test says.
 */
public final class Bounds {
    private static final int FACTOR = factor(System.getenv("TUNSHAPE_TEST_BOUND_FACTOR"));
    private static final String REASON = System.getenv().getOrDefault("TUNSHAPE_TEST_BOUND_REASON", "under emulation");
    private static final java.util.Set<String> SAID = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private Bounds() {
    }

    /** The factor in force: 1 natively. */
    public static int factor() {
        return FACTOR;
    }

    /** {@code millis}, times the factor; a widened bound is printed with the reason. */
    public static long millis(long millis) {
        if (FACTOR == 1) {
            return millis;
        }
        long widened = millis * FACTOR;
        say("bound widened x" + FACTOR + ": " + millis + " ms -> " + widened + " ms (" + REASON + ")");
        return widened;
    }

    /**
     * A bound on how much the machine gets done at once (e.g. segments a TSO super-frame carries),
     * which a TCP sender slowed down by emulation does not reach: {@code nativeBound} natively,
     * {@code emulatedBound} under emulation, printed with what it bounds and the reason.
     */
    public static int atLeast(int nativeBound, int emulatedBound, String what) {
        if (FACTOR == 1) {
            return nativeBound;
        }
        say("bound widened: " + what + " at least " + emulatedBound + ", not " + nativeBound + " (" + REASON + ")");
        return emulatedBound;
    }

    private static void say(String line) {
        if (SAID.add(line)) {
            System.out.println(line);
        }
    }

    static int factor(String value) {
        if (value == null || value.isBlank()) {
            return 1;
        }
        try {
            int f = Integer.parseInt(value.trim());
            if (f < 1 || f > 100) {
                throw new IllegalArgumentException("TUNSHAPE_TEST_BOUND_FACTOR must be 1 to 100, not " + value);
            }
            return f;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("TUNSHAPE_TEST_BOUND_FACTOR must be a whole number 1 to 100, not " + value, e);
        }
    }
}
