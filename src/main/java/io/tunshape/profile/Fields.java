package io.tunshape.profile;

import io.tunshape.tc.Duration;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;
import io.tunshape.tc.UnitException;
import io.tunshape.tc.Units;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Function;

/**
 * Typed access to one YAML mapping, with errors that carry the file, the position of the value and
 * its dotted path ("shaping.classes[1].rate"), and what is accepted.
 */
public final class Fields {
    private final String file;
    private final String path;
    private final YamlNode.Mapping map;

    private Fields(String file, String path, YamlNode.Mapping map) {
        this.file = file;
        this.path = path;
        this.map = map;
    }

    /** The mapping at {@code node}, checked to have only {@code allowed} keys. */
    public static Fields of(String file, String path, YamlNode node, Set<String> allowed) {
        if (!(node instanceof YamlNode.Mapping m)) {
            throw new ProfileException(file, node.line(), node.column(), (path.isEmpty() ? "the document" : path)
                    + ": expected a mapping (key: value lines), found " + node.describe());
        }
        for (YamlNode.Entry e : m.entries().values()) {
            if (!allowed.contains(e.key())) {
                String near = nearest(e.key(), allowed);
                throw new ProfileException(file, e.line(), e.column(), "unknown key '" + qualify(path, e.key()) + "'"
                        + (near != null ? "; did you mean '" + near + "'?" : "") + " Accepted here: "
                        + String.join(", ", sorted(allowed)));
            }
        }
        return new Fields(file, path, m);
    }

    private static List<String> sorted(Set<String> s) {
        List<String> l = new ArrayList<>(s);
        l.sort(null);
        return l;
    }

    static String qualify(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    public String file() {
        return file;
    }

    public boolean has(String key) {
        YamlNode.Entry e = map.entries().get(key);
        return e != null && !(e.value() instanceof YamlNode.Scalar s && s.text() == null);
    }

    public YamlNode node(String key) {
        YamlNode.Entry e = map.entries().get(key);
        return e == null ? null : e.value();
    }

    /** An error at the value of {@code key} (or at the mapping when the key is missing). */
    public ProfileException error(String key, String problem) {
        YamlNode n = node(key);
        int line = n != null ? n.line() : map.line();
        int col = n != null ? n.column() : map.column();
        return new ProfileException(file, line, col, qualify(path, key) + ": " + problem);
    }

    private YamlNode.Scalar scalar(String key, String expected) {
        YamlNode n = node(key);
        if (!(n instanceof YamlNode.Scalar s) || s.text() == null) {
            throw error(key, "expected " + expected + ", found " + (n == null ? "nothing" : n.describe()));
        }
        return s;
    }

    public String string(String key, boolean required) {
        if (!has(key)) {
            if (required) {
                throw error(key, "missing; a text value is required");
            }
            return null;
        }
        YamlNode.Scalar s = scalar(key, "a text value");
        if (s.number() || s.bool()) {
            throw error(key, "expected a text value, found " + s.describe());
        }
        return s.text();
    }

    public long integer(String key, long dflt, long min, long max, String what) {
        if (!has(key)) {
            return dflt;
        }
        YamlNode.Scalar s = scalar(key, "a whole number");
        try {
            if (!s.number()) {
                throw new NumberFormatException();
            }
            long v = Long.parseLong(s.text());
            if (v < min || v > max) {
                throw error(key, v + " is out of range; accepted: " + min + " to " + max + " (" + what + ")");
            }
            return v;
        } catch (NumberFormatException e) {
            throw error(key, "expected a whole number (" + what + "), found " + s.describe());
        }
    }

    public boolean bool(String key, boolean dflt) {
        if (!has(key)) {
            return dflt;
        }
        YamlNode.Scalar s = scalar(key, "true or false");
        if (!s.bool()) {
            throw error(key, "expected true or false, found " + s.describe());
        }
        return Boolean.parseBoolean(s.text());
    }

    /** A value in tc units; a bare YAML number means the unit's base (bits, bytes, microseconds). */
    private <T> T unit(String key, Function<String, T> parse, String forms) {
        YamlNode.Scalar s = scalar(key, forms);
        if (s.bool()) {
            throw error(key, "expected " + forms + ", found " + s.describe());
        }
        try {
            return parse.apply(s.text().trim());
        } catch (UnitException e) {
            throw error(key, e.getMessage());
        }
    }

    public Rate rate(String key, boolean required) {
        if (!has(key)) {
            if (required) {
                throw error(key, "missing; expected a rate such as 9600bit or 1mbit");
            }
            return null;
        }
        Rate r = unit(key, Units::parseRate, Units.RATE_FORMS);
        if (r.bytesPerSecond() == 0) {
            throw error(key, "'" + text(key) + "' is 0 bytes/s; the kernel counts whole bytes per second, so the "
                    + "smallest rate is 8bit");
        }
        return r;
    }

    public String text(String key) {
        YamlNode n = node(key);
        return n instanceof YamlNode.Scalar s ? s.text() : null;
    }

    /** A size, or null for absent or "auto". */
    public Size sizeOrAuto(String key) {
        if (!has(key) || "auto".equals(text(key))) {
            return null;
        }
        return unit(key, Units::parseSize, "auto or " + Units.SIZE_FORMS);
    }

    public Duration time(String key) {
        if (!has(key)) {
            return null;
        }
        return unit(key, Units::parseTime, Units.TIME_FORMS);
    }

    /** A percentage such as 5% (or a fraction such as 0.05), as a fraction. */
    public double percent(String key, double dflt, double maxFraction) {
        if (!has(key)) {
            return dflt;
        }
        YamlNode.Scalar s = scalar(key, "a percentage such as 5%");
        String t = s.text().trim();
        double v;
        try {
            v = t.endsWith("%") ? Double.parseDouble(t.substring(0, t.length() - 1).trim()) / 100 : Double.parseDouble(t);
        } catch (NumberFormatException e) {
            throw error(key, "expected a percentage such as 5%, found " + s.describe());
        }
        if (!(v >= 0 && v <= maxFraction)) {
            throw error(key, t + " is out of range; accepted: 0% to " + Math.round(maxFraction * 100) + "%");
        }
        return v;
    }

    public <E extends Enum<E>> E choice(String key, Class<E> type, E dflt) {
        if (!has(key)) {
            return dflt;
        }
        YamlNode.Scalar s = scalar(key, "one of " + words(type));
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(s.text())) {
                return e;
            }
        }
        throw error(key, "'" + s.text() + "' is not accepted; accepted: " + words(type));
    }

    private static <E extends Enum<E>> String words(Class<E> type) {
        List<String> w = new ArrayList<>();
        for (E e : type.getEnumConstants()) {
            w.add(e.name().toLowerCase(Locale.ROOT));
        }
        return String.join(", ", w);
    }

    public Fields sub(String key, Set<String> allowed) {
        YamlNode n = node(key);
        return n == null ? null : of(file, qualify(path, key), n, allowed);
    }

    public List<YamlNode> list(String key) {
        YamlNode n = node(key);
        if (n == null || (n instanceof YamlNode.Scalar s && s.text() == null)) {
            return List.of();
        }
        if (!(n instanceof YamlNode.Sequence seq)) {
            throw error(key, "expected a list (lines starting with '- '), found " + n.describe());
        }
        return seq.items();
    }

    public String path() {
        return path;
    }

    /** The closest accepted word within two edits, for "did you mean". */
    static String nearest(String word, Iterable<String> candidates) {
        String best = null;
        int bestD = 3;
        for (String c : candidates) {
            int d = distance(word.toLowerCase(Locale.ROOT), c.toLowerCase(Locale.ROOT));
            if (d < bestD) {
                bestD = d;
                best = c;
            }
        }
        return best;
    }

    static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int c = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + c);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
