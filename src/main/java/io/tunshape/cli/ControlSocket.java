package io.tunshape.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The daemon's control socket, as `status` and `top` read it: one JSON document per connection. */
final class ControlSocket {
    private ControlSocket() {
    }

    static String query(String socket) throws IOException {
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(socket));
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            while (c.read(buf) >= 0 && buf.hasRemaining()) {
                // read to the end
            }
            buf.flip();
            return StandardCharsets.UTF_8.decode(buf).toString().trim();
        }
    }

    /** The "interfaces" array as maps of scalar fields (JSON null as Java null). */
    static List<Map<String, String>> interfaces(String json) throws IOException {
        List<Map<String, String>> rows = new ArrayList<>();
        try (JsonParser p = new JsonFactory().createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return rows;
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken t = p.nextToken();
                if (!"interfaces".equals(field) || t != JsonToken.START_ARRAY) {
                    p.skipChildren();
                    continue;
                }
                while (p.nextToken() == JsonToken.START_OBJECT) {
                    Map<String, String> row = new LinkedHashMap<>();
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String name = p.currentName();
                        JsonToken v = p.nextToken();
                        if (v.isScalarValue()) {
                            row.put(name, v == JsonToken.VALUE_NULL ? null : p.getText());
                        } else {
                            p.skipChildren();
                        }
                    }
                    rows.add(row);
                }
            }
        }
        return rows;
    }
}
