package io.tunshape.fuzz;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Tuple;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/**
 * Inputs for text decoders (YAML profiles and configurations, JSON reports): valid files mutated
 * by lines (deleted, doubled, swapped, indented), by values (replaced with tokens that trip parsers:
 * anchors, tags, huge and odd numbers, units, deep nesting, control bytes), and by bytes.
 */
public final class TextMutate {
    static final String[] TOKENS = {"", "~", "null", "true", "no", "0", "-1", "-0", "0x10", "0o17", "1e999", "-1e999",
        ".nan", ".inf", "-.inf", "1.5e-400", "99999999999999999999999", "18446744073709551616", "9223372036854775808",
        "1mbit", "0bit", "7bit", "100tbit", "1.5kibit", "10mbps", "1e3kbit", "5ms", "0ms", "1us", "99999999s", "1k",
        "0b", "auto", "htb", "tbf", "backpressure", "latency", "CS6", "EF", "AF41", "ef", "{}", "[]", "[1, 2]",
        "{a: b}", "&a x", "*a", "!!binary AAAA", "!!str 5", "<<: *a", "'quoted'", "\"\\u0000\"", "\"\\uD800\"", "|",
        ">", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "{{{{{{{{{{{{{{{{", "\t", "\u00e9", "\uFEFF", "\u0000", "%YAML 1.1",
        "---", "...", "? complex", "- item", "key: value", "NaN", "Infinity", "-Infinity", "1.0", "2e4", "0.5",
        "1E+2", "-0.0", "1e-2"};

    private TextMutate() {
    }

    /** Every regular file in these directories (and these files), as seeds. */
    public static List<byte[]> files(String... paths) {
        List<byte[]> out = new ArrayList<>();
        for (String p : paths) {
            Path path = Path.of(p);
            try {
                if (Files.isDirectory(path)) {
                    try (Stream<Path> s = Files.list(path)) {
                        for (Path f : s.sorted().toList()) {
                            if (Files.isRegularFile(f) && !f.toString().endsWith(".md")) {
                                out.add(Files.readAllBytes(f));
                            }
                        }
                    }
                } else if (Files.isRegularFile(path)) {
                    out.add(Files.readAllBytes(path));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        if (out.isEmpty()) {
            throw new IllegalStateException("no seed files in " + String.join(", ", paths));
        }
        return out;
    }

    /** Mostly text mutations, some byte mutations, some seeds as they are. */
    public static Arbitrary<byte[]> from(List<byte[]> seeds) {
        return Arbitraries.frequencyOf(Tuple.of(12, Arbitraries.randomValue(r -> mutate(seeds, r))),
                Tuple.of(3, Arbitraries.randomValue(r -> Mutate.mutate(seeds, r))),
                Tuple.of(1, Arbitraries.of(seeds)));
    }

    /**
     * One input drawn as {@link #from} draws it (the same 12:3:1 mix), without jqwik: for the long
     * run's plain loop ({@link FuzzLoop}), where jqwik's per-try bookkeeping buys nothing (these
     * values come from a Random and cannot be shrunk anyway).
     */
    public static byte[] next(List<byte[]> seeds, Random r) {
        int k = r.nextInt(16);
        return k < 12 ? mutate(seeds, r) : k < 15 ? Mutate.mutate(seeds, r) : seeds.get(r.nextInt(seeds.size())).clone();
    }

    static byte[] mutate(List<byte[]> seeds, Random r) {
        String s = new String(seeds.get(r.nextInt(seeds.size())), StandardCharsets.UTF_8);
        List<String> lines = new ArrayList<>(List.of(s.split("\n", -1)));
        int ops = 1 + r.nextInt(3);
        for (int i = 0; i < ops && !lines.isEmpty(); i++) {
            int at = r.nextInt(lines.size());
            String l = lines.get(at);
            switch (r.nextInt(7)) {
                case 0 -> lines.remove(at);
                case 1 -> lines.add(at, l);
                case 2 -> {
                    int other = r.nextInt(lines.size());
                    lines.set(at, lines.get(other));
                    lines.set(other, l);
                }
                case 3 -> lines.set(at, (r.nextBoolean() ? "  " : "") + l.strip());
                case 4 -> {
                    // a value replaced: after "key:" or a list dash, or after a JSON colon
                    int c = l.indexOf(':');
                    String tok = TOKENS[r.nextInt(TOKENS.length)];
                    lines.set(at, c >= 0 ? l.substring(0, c + 1) + " " + tok + (l.endsWith(",") ? "," : "") : tok);
                }
                case 5 -> {
                    String tok = TOKENS[r.nextInt(TOKENS.length)];
                    int p = r.nextInt(l.length() + 1);
                    lines.set(at, l.substring(0, p) + tok + l.substring(p));
                }
                default -> {
                    // a key from another seed's line: unknown, duplicated or misplaced keys
                    String o = new String(seeds.get(r.nextInt(seeds.size())), StandardCharsets.UTF_8);
                    String[] ol = o.split("\n");
                    lines.add(at, ol[r.nextInt(ol.length)]);
                }
            }
        }
        return String.join("\n", lines).getBytes(StandardCharsets.UTF_8);
    }
}
