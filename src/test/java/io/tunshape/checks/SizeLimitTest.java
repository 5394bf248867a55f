package io.tunshape.checks;

import com.sun.source.tree.ClassTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.LineMap;
import com.sun.source.tree.MethodTree;
import com.sun.source.util.JavacTask;
import com.sun.source.util.SourcePositions;
import com.sun.source.util.TreePathScanner;
import com.sun.source.util.Trees;
import org.junit.jupiter.api.Test;

import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Issue 23's size limits on src/main/java: no file over 450 lines, no method or constructor over 60
 * lines (from its first modifier to its closing brace; a lambda or a local or anonymous class counts
 * in the method that holds it, and its own methods are measured too). The sources are read by the
 * JDK's own parser (JavacTask.parse, LineMap), so comments and strings cannot fool a count.
 *
 * <p>The violations that existed when the check came are listed with a reason in
 * size-limit-exceptions.txt beside this class; the list may only shrink: a violation not on it
 * fails, and so does an entry that is no longer a violation (remove it).
 */
class SizeLimitTest {
    static final int MAX_FILE_LINES = 450;
    static final int MAX_METHOD_LINES = 60;
    private static final Path SOURCES = Path.of("src", "main", "java");

    /** A file or a method over its limit: key is "path" or "path:method", path relative to src/main/java. */
    record Violation(String key, String where, String what) {
    }

    @Test
    void everyMainSourceFileAndMethodIsWithinTheLimitsOrAListedException() throws IOException {
        Map<String, Violation> found = new TreeMap<>();
        for (Violation v : scan(SOURCES)) {
            found.merge(v.key(), v, (a, b) -> new Violation(a.key(), a.where() + ", " + b.where(), a.what() + "; " + b.what()));
        }
        Map<String, String> listed = exceptions();
        List<String> unlisted = new ArrayList<>();
        for (Violation v : found.values()) {
            if (!listed.containsKey(v.key())) {
                unlisted.add(v.where() + ": " + v.what());
            }
        }
        List<String> stale = listed.keySet().stream().filter(k -> !found.containsKey(k))
                .map(k -> k + " (" + listed.get(k) + ")").toList();
        StringBuilder all = new StringBuilder();
        found.values().forEach(v -> all.append("  ").append(v.where()).append(": ").append(v.what())
                .append(listed.containsKey(v.key()) ? "  [listed]" : "  [NOT LISTED]").append('\n'));
        System.out.print("size limits (" + MAX_FILE_LINES + " lines a file, " + MAX_METHOD_LINES + " a method), "
                + found.size() + " over:\n" + all);
        if (!unlisted.isEmpty() || !stale.isEmpty()) {
            fail((unlisted.isEmpty() ? "" : "over the size limits (split them; an exception needs a line with its reason in "
                    + "src/test/resources/io/tunshape/checks/size-limit-exceptions.txt):\n  "
                    + String.join("\n  ", unlisted) + "\n")
                    + (stale.isEmpty() ? "" : "listed as exceptions but within the limits now (remove them from "
                    + "size-limit-exceptions.txt: the list only shrinks):\n  " + String.join("\n  ", stale)));
        }
    }

    @Test
    void theCheckFindsALongFileAndALongMethodWithTheirLines(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        Path pkg = Files.createDirectories(dir.resolve("p"));
        StringBuilder src = new StringBuilder("package p;\n\nclass Long {\n    // a \"string\" { in a comment\n    void shortOne() {\n"
                + "        Runnable r = () -> {\n            int x = 1;\n        };\n    }\n\n    Long() {\n");
        for (int i = 0; i < 61; i++) {
            src.append("        System.out.println(\"}\");\n");
        }
        src.append("    }\n");
        while (src.chars().filter(c -> c == '\n').count() < MAX_FILE_LINES) {
            src.append("\n");
        }
        src.append("    int fine() {\n        return 1;\n    }\n}\n");
        Files.writeString(pkg.resolve("Long.java"), src);
        List<Violation> v = scan(dir);
        long lines = src.chars().filter(c -> c == '\n').count();
        assertTrue(lines > MAX_FILE_LINES, "the example is long enough: " + lines);
        assertTrue(v.contains(new Violation("p/Long.java", "p/Long.java:1", lines + " lines")), v.toString());
        assertTrue(v.contains(new Violation("p/Long.java:Long", "p/Long.java:11", "constructor Long, 63 lines")), v.toString());
        assertFalse(v.stream().anyMatch(x -> x.key().endsWith("shortOne") || x.key().endsWith("fine")), v.toString());
        assertTrue(v.size() == 2, v.toString());
    }

    /** Every file under root parsed, and each file and method over its limit. */
    static List<Violation> scan(Path root) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.walk(root)) {
            files = s.filter(p -> p.toString().endsWith(".java")).sorted().toList();
        }
        assertFalse(files.isEmpty(), "no Java source under " + root.toAbsolutePath());
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, "the JDK's compiler (a JDK, not a JRE, runs the tests)");
        List<Violation> out = new ArrayList<>();
        try (StandardJavaFileManager fm = javac.getStandardFileManager(null, null, StandardCharsets.UTF_8)) {
            Iterable<? extends JavaFileObject> units = fm.getJavaFileObjectsFromPaths(files);
            JavacTask task = (JavacTask) javac.getTask(null, fm, null, List.of("-proc:none"), null, units);
            SourcePositions positions = Trees.instance(task).getSourcePositions();
            for (CompilationUnitTree cu : task.parse()) {
                Path file = Path.of(cu.getSourceFile().toUri());
                String rel = root.toAbsolutePath().relativize(file.toAbsolutePath()).toString().replace('\\', '/');
                long lines = Files.readAllLines(file, StandardCharsets.UTF_8).size();
                if (lines > MAX_FILE_LINES) {
                    out.add(new Violation(rel, rel + ":1", lines + " lines"));
                }
                methods(cu, positions, rel, out);
            }
        }
        return out;
    }

    private static void methods(CompilationUnitTree cu, SourcePositions positions, String rel, List<Violation> out) {
        LineMap lines = cu.getLineMap();
        new TreePathScanner<Void, Void>() {
            private final List<String> classes = new ArrayList<>();

            @Override
            public Void visitClass(ClassTree c, Void unused) {
                classes.add(c.getSimpleName().toString());
                try {
                    return super.visitClass(c, unused);
                } finally {
                    classes.remove(classes.size() - 1);
                }
            }

            @Override
            public Void visitMethod(MethodTree m, Void unused) {
                long start = positions.getStartPosition(cu, m);
                long end = positions.getEndPosition(cu, m);
                if (m.getBody() != null && start >= 0 && end >= 0) {
                    long first = lines.getLineNumber(start);
                    long n = lines.getLineNumber(end) - first + 1;
                    if (n > MAX_METHOD_LINES) {
                        boolean ctor = m.getName().contentEquals("<init>");
                        String name = ctor ? classes.get(classes.size() - 1) : m.getName().toString();
                        out.add(new Violation(rel + ":" + name, rel + ":" + first,
                                (ctor ? "constructor " : "method ") + name + ", " + n + " lines"));
                    }
                }
                return super.visitMethod(m, unused);
            }
        }.scan(cu, null);
    }

    /** The listed exceptions: "path[:method] reason", one a line, # starts a comment line. */
    static Map<String, String> exceptions() throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        Set<String> dup = new LinkedHashSet<>();
        try (InputStream in = SizeLimitTest.class.getResourceAsStream("size-limit-exceptions.txt")) {
            assertNotNull(in, "size-limit-exceptions.txt beside SizeLimitTest");
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                String t = line.strip();
                if (t.isEmpty() || t.startsWith("#")) {
                    continue;
                }
                String[] kv = t.split("\\s+", 2);
                assertTrue(kv.length == 2 && !kv[1].isBlank(), "an exception needs its reason: " + line);
                if (out.put(kv[0], kv[1]) != null) {
                    dup.add(kv[0]);
                }
            }
        }
        assertTrue(dup.isEmpty(), "listed twice in size-limit-exceptions.txt: " + dup);
        return out;
    }
}
