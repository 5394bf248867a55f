package io.tunshape.profile;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A YAML document as a small tree that remembers where each value stood (1-based line and column),
 * so every error can point at its place in the file.
 */
public sealed interface YamlNode permits YamlNode.Scalar, YamlNode.Mapping, YamlNode.Sequence {
    int line();

    int column();

    /** "a string", "a number", "a mapping", ...: for "expected X, found Y" messages. */
    String describe();

    /** A scalar; {@code text} is null for YAML null; {@code number} tells an unquoted number from a string. */
    record Scalar(String text, boolean number, boolean bool, int line, int column) implements YamlNode {
        @Override
        public String describe() {
            if (text == null) {
                return "nothing (null)";
            }
            return (number ? "the number " : bool ? "the boolean " : "the string ") + "'" + text + "'";
        }
    }

    /** A mapping in file order; each key keeps its own position. */
    record Mapping(Map<String, Entry> entries, int line, int column) implements YamlNode {
        public Mapping {
            entries = new LinkedHashMap<>(entries);
        }

        @Override
        public String describe() {
            return "a mapping";
        }
    }

    record Entry(String key, int line, int column, YamlNode value) {
    }

    record Sequence(List<YamlNode> items, int line, int column) implements YamlNode {
        public Sequence {
            items = List.copyOf(items);
        }

        @Override
        public String describe() {
            return "a list";
        }
    }
}
