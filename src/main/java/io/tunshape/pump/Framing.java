package io.tunshape.pump;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Byte-stream framings for serial lines and TNCs.
 * <ul>
 * <li>SLIP (RFC 1055): END 0xC0 before and after each frame; END in data becomes ESC 0xDB ESC_END
 * 0xDC, ESC becomes ESC ESC_ESC 0xDD.</li>
 * <li>KISS (the TNC protocol): FEND 0xC0, a command byte (0x00: data frame on port 0), the frame
 * with FEND as FESC 0xDB TFEND 0xDC and FESC as FESC TFESC 0xDD, FEND.</li>
 * </ul>
 * A {@link Decoder} takes bytes as they come and yields whole frames; bytes of a broken escape are
 * dropped with their frame, as the RFC suggests.
 */
public enum Framing {
    SLIP, KISS;

    static final int END = 0xC0;
    static final int ESC = 0xDB;
    static final int ESC_END = 0xDC;
    static final int ESC_ESC = 0xDD;

    public static Framing parse(String s) {
        for (Framing f : values()) {
            if (f.name().equalsIgnoreCase(s)) {
                return f;
            }
        }
        throw new IllegalArgumentException("framing '" + s + "' is not accepted; accepted: slip, kiss");
    }

    /** The bytes that carry {@code frame[off, off+len)} on the wire. */
    public byte[] encode(byte[] frame, int off, int len) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(len + len / 64 + 4);
        o.write(END);
        if (this == KISS) {
            o.write(0x00);
        }
        for (int i = off; i < off + len; i++) {
            int b = frame[i] & 0xFF;
            if (b == END) {
                o.write(ESC);
                o.write(ESC_END);
            } else if (b == ESC) {
                o.write(ESC);
                o.write(ESC_ESC);
            } else {
                o.write(b);
            }
        }
        o.write(END);
        return o.toByteArray();
    }

    public Decoder decoder() {
        return new Decoder(this);
    }

    /** Reassembles frames from a byte stream. */
    public static final class Decoder {
        private final Framing framing;
        private final ByteArrayOutputStream cur = new ByteArrayOutputStream(2048);
        private boolean escaped;
        private boolean broken;
        private int maxFrame = 65536;

        Decoder(Framing framing) {
            this.framing = framing;
        }

        /** Feeds bytes; returns the frames completed by them. */
        public List<byte[]> feed(byte[] data, int off, int len) {
            List<byte[]> out = new ArrayList<>();
            for (int i = off; i < off + len; i++) {
                int b = data[i] & 0xFF;
                if (b == END) {
                    finish(out);
                    continue;
                }
                if (escaped) {
                    escaped = false;
                    if (b == ESC_END) {
                        b = END;
                    } else if (b == ESC_ESC) {
                        b = ESC;
                    } else {
                        broken = true; // a protocol violation: drop the frame
                    }
                } else if (b == ESC) {
                    escaped = true;
                    continue;
                }
                if (cur.size() >= maxFrame) {
                    broken = true;
                } else {
                    cur.write(b);
                }
            }
            return out;
        }

        private void finish(List<byte[]> out) {
            byte[] f = cur.toByteArray();
            cur.reset();
            boolean drop = broken || escaped;
            broken = false;
            escaped = false;
            if (drop || f.length == 0) {
                return;
            }
            if (framing == KISS) {
                // only data frames (command 0 on any port, low nibble 0) carry frames
                if ((f[0] & 0x0F) != 0 || f.length < 2) {
                    return;
                }
                byte[] d = new byte[f.length - 1];
                System.arraycopy(f, 1, d, 0, d.length);
                out.add(d);
            } else {
                out.add(f);
            }
        }
    }
}
