package io.tunshape.fuzz;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;

/**
 * The long run's plain loop for the YAML decoders (bench/fuzz.sh): the same inputs as the jqwik
 * properties ({@link TextMutate#next}, the same seeds) and the same invariants ({@link Fuzz#check}
 * through {@link ProfileFuzzTest#checkProfile} and {@link ProfileFuzzTest#checkConfig}), without
 * jqwik's per-try bookkeeping (a tenth of the time per input in a JFR profile; these inputs come
 * from a Random, so jqwik has nothing to shrink). One JVM per target, so the two run side by side.
 *
 * <p>Usage: {@code FuzzLoop profile|daemon-config TRIES [SEED [SECONDS]]}: TRIES inputs, or fewer
 * when SECONDS run out first (the count tried is printed either way). Prints progress every 100,000
 * inputs and {@code fuzz: inputs tried {...}} at the end; on a finding prints the seed, the input's
 * number and the input (hex, also written to target/fuzz-findings/) and exits 1.
 */
public final class FuzzLoop {
    private FuzzLoop() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: FuzzLoop profile|daemon-config TRIES [SEED [SECONDS]]");
            System.exit(2);
        }
        String target = args[0];
        long tries = Long.parseLong(args[1]);
        long seed = args.length > 2 ? Long.parseLong(args[2]) : System.nanoTime();
        long deadline = args.length > 3 ? System.nanoTime() + Long.parseLong(args[3]) * 1_000_000_000L : Long.MAX_VALUE;
        List<byte[]> seeds;
        Consumer<byte[]> check;
        switch (target) {
            case "profile" -> {
                seeds = ProfileFuzzTest.profileSeeds();
                check = ProfileFuzzTest::checkProfile;
            }
            case "daemon-config" -> {
                seeds = ProfileFuzzTest.configSeeds();
                check = ProfileFuzzTest::checkConfig;
            }
            default -> {
                System.err.println("unknown target " + target + "; profile or daemon-config");
                System.exit(2);
                return;
            }
        }
        Random r = new Random(seed);
        long t0 = System.nanoTime();
        System.out.println("fuzz: " + target + " seed " + seed + ", " + tries + " inputs");
        long i = 1;
        for (; i <= tries && System.nanoTime() < deadline; i++) {
            byte[] in = TextMutate.next(seeds, r);
            try {
                check.accept(in);
            } catch (AssertionError e) {
                Path dir = Path.of("target", "fuzz-findings");
                Files.createDirectories(dir);
                Path f = dir.resolve(target + "-" + seed + "-" + i + ".bin");
                Files.write(f, in);
                System.out.println("fuzz: " + target + " FOUND at input " + i + " (seed " + seed + "), written to "
                        + f + ": " + e.getMessage());
                e.printStackTrace(System.out);
                System.exit(1);
            }
            if (i % 100_000 == 0) {
                System.out.printf("fuzz: %s %,d inputs, %.0f s, load %s%n", target, i,
                        (System.nanoTime() - t0) / 1e9, load());
            }
        }
        System.out.printf("fuzz: %s done, %,d inputs%s, %.0f s, load %s%n", target, i - 1,
                i <= tries ? " (time ran out)" : "", (System.nanoTime() - t0) / 1e9, load());
        System.out.println("fuzz: inputs tried " + Fuzz.summary());
    }

    private static String load() {
        try {
            String[] l = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return l[0] + " " + l[1] + " " + l[2];
        } catch (IOException e) {
            return "?";
        }
    }
}
