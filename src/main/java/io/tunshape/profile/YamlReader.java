package io.tunshape.profile;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import org.yaml.snakeyaml.LoaderOptions;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads one small YAML document into a {@link YamlNode} tree, defensively: a size cap, strict
 * UTF-8, no aliases (so no "billion laughs"), a nesting cap, duplicate keys refused, and every error
 * reported with its line and column.
 */
public final class YamlReader {
    /** Profiles and configs are a few kilobytes; anything this large is a mistake or an attack. */
    public static final int MAX_BYTES = 256 * 1024;
    private static final int MAX_DEPTH = 32;
    private static final int MAX_ALIASES = 20;

    /** One factory for every read (thread-safe once built; building one per file was a tenth of a read). */
    private static final YAMLFactory FACTORY = factory();
    private static final java.util.regex.Pattern SPACES = java.util.regex.Pattern.compile("\\s+");

    private YamlReader() {
    }

    private static YAMLFactory factory() {
        LoaderOptions lo = new LoaderOptions();
        lo.setMaxAliasesForCollections(MAX_ALIASES);
        lo.setAllowDuplicateKeys(false);
        lo.setNestingDepthLimit(MAX_DEPTH);
        lo.setCodePointLimit(MAX_BYTES);
        return YAMLFactory.builder().loaderOptions(lo).build();
    }

    public static YamlNode read(byte[] bytes, String file) {
        if (bytes.length > MAX_BYTES) {
            throw new ProfileException(file, 0, 0, "file is " + bytes.length + " bytes; at most " + MAX_BYTES
                    + " are accepted");
        }
        String text = decode(bytes, file);
        if (text.isBlank()) {
            throw new ProfileException(file, 1, 1, "the file is empty; a YAML mapping is expected");
        }
        try (YAMLParser p = FACTORY.createParser(text)) {
            JsonToken t = p.nextToken();
            if (t == null) {
                throw new ProfileException(file, 1, 1, "the file holds no YAML document");
            }
            YamlNode root = node(p, t, file, 0);
            JsonToken next = p.nextToken();
            if (next != null) {
                JsonLocation l = p.currentTokenLocation();
                throw new ProfileException(file, l.getLineNr(), l.getColumnNr(), "a second YAML document; one "
                        + "document per file is accepted");
            }
            return root;
        } catch (ProfileException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw syntax(file, e);
        }
    }

    private static String decode(byte[] bytes, String file) {
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        try {
            return d.decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            // find the first bad byte in one pass: the decoder stops at it (decoding ever longer prefixes
            // to find it took 12 s on a 250 KB file whose last byte was bad)
            CharsetDecoder again = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT);
            ByteBuffer in = ByteBuffer.wrap(bytes);
            java.nio.CharBuffer out = java.nio.CharBuffer.allocate(bytes.length + 1);
            java.nio.charset.CoderResult r = again.decode(in, out, true);
            int bad = r.isError() ? in.position() : bytes.length;
            int line = 1;
            int col = 1;
            for (int i = 0; i < bad && i < bytes.length; i++) {
                if (bytes[i] == '\n') {
                    line++;
                    col = 1;
                } else if ((bytes[i] & 0xC0) != 0x80) {
                    col++;
                }
            }
            throw new ProfileException(file, line, col, String.format("byte 0x%02x is not UTF-8; the file must be "
                    + "UTF-8 text", bytes[Math.min(bad, bytes.length - 1)] & 0xFF));
        }
    }

    private static ProfileException syntax(String file, Exception e) {
        String msg = e.getMessage() == null ? e.toString() : e.getMessage();
        int line = 0;
        int col = 0;
        if (e instanceof com.fasterxml.jackson.core.JsonProcessingException j && j.getLocation() != null) {
            line = j.getLocation().getLineNr();
            col = j.getLocation().getColumnNr();
            msg = j.getOriginalMessage();
        }
        Throwable c = e.getCause();
        if (c instanceof org.yaml.snakeyaml.error.MarkedYAMLException m && m.getProblemMark() != null) {
            line = m.getProblemMark().getLine() + 1;
            col = m.getProblemMark().getColumn() + 1;
            msg = (m.getContext() == null ? "" : m.getContext() + ", ") + m.getProblem();
        } else if (c != null && c.getMessage() != null && msg.contains("exceeded")) {
            msg = c.getMessage();
        }
        msg = SPACES.matcher(msg).replaceAll(" ").trim();
        return new ProfileException(file, line, col, "YAML syntax error: " + msg);
    }

    private static YamlNode node(YAMLParser p, JsonToken t, String file, int depth) throws IOException {
        JsonLocation at = p.currentTokenLocation();
        int line = at.getLineNr();
        int col = at.getColumnNr();
        if (p.isCurrentAlias()) {
            // the streaming parser would hand the alias over as its anchor's name: refuse rather than misread
            throw new ProfileException(file, line, col, "alias '*" + p.getText() + "': anchors and aliases are not "
                    + "accepted; write the value out");
        }
        if (depth > MAX_DEPTH) {
            throw new ProfileException(file, line, col, "nested more than " + MAX_DEPTH + " levels deep");
        }
        switch (t) {
            case START_OBJECT: {
                Map<String, YamlNode.Entry> entries = new LinkedHashMap<>();
                JsonToken k;
                while ((k = p.nextToken()) == JsonToken.FIELD_NAME) {
                    JsonLocation kl = p.currentTokenLocation();
                    String key = p.currentName();
                    if (entries.containsKey(key)) {
                        throw new ProfileException(file, kl.getLineNr(), kl.getColumnNr(), "key '" + key
                                + "' appears twice in this mapping");
                    }
                    YamlNode v = node(p, p.nextToken(), file, depth + 1);
                    entries.put(key, new YamlNode.Entry(key, kl.getLineNr(), kl.getColumnNr(), v));
                }
                return new YamlNode.Mapping(entries, line, col);
            }
            case START_ARRAY: {
                List<YamlNode> items = new ArrayList<>();
                JsonToken i;
                while ((i = p.nextToken()) != JsonToken.END_ARRAY && i != null) {
                    items.add(node(p, i, file, depth + 1));
                }
                return new YamlNode.Sequence(items, line, col);
            }
            case VALUE_NULL:
                return new YamlNode.Scalar(null, false, false, line, col);
            case VALUE_NUMBER_INT:
            case VALUE_NUMBER_FLOAT:
                return new YamlNode.Scalar(p.getText(), true, false, line, col);
            case VALUE_TRUE:
            case VALUE_FALSE:
                return new YamlNode.Scalar(p.getText(), false, true, line, col);
            case VALUE_STRING:
                return new YamlNode.Scalar(p.getText(), false, false, line, col);
            default:
                throw new ProfileException(file, line, col, "unexpected YAML content (" + t + ")");
        }
    }
}
