package io.tunshape.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A netlink request captured from iproute2 with strace (src/test/resources/golden/README.md). */
public record Golden(String command, byte[] bytes) {
    public static Golden load(String name) {
        try (InputStream in = Golden.class.getResourceAsStream("/golden/" + name + ".txt")) {
            if (in == null) {
                throw new IllegalArgumentException("no golden file " + name);
            }
            String command = null;
            List<Byte> bytes = new ArrayList<>();
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (line.startsWith("# command: ")) {
                    command = line.substring("# command: ".length());
                } else if (!line.startsWith("#") && !line.isBlank()) {
                    for (String h : line.trim().split(" ")) {
                        bytes.add((byte) Integer.parseInt(h, 16));
                    }
                }
            }
            byte[] b = new byte[bytes.size()];
            for (int i = 0; i < b.length; i++) {
                b[i] = bytes.get(i);
            }
            return new Golden(command, b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int seq() {
        return (bytes[8] & 0xFF) | (bytes[9] & 0xFF) << 8 | (bytes[10] & 0xFF) << 16 | (bytes[11] & 0xFF) << 24;
    }

    public static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < b.length; i++) {
            s.append(String.format("%02x", b[i] & 0xFF)).append(i % 16 == 15 ? "\n" : " ");
        }
        return s.toString();
    }
}
