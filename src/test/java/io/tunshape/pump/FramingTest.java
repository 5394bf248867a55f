package io.tunshape.pump;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** SLIP (RFC 1055), KISS and exec's length prefix: wire bytes and round trips, escapes included. */
class FramingTest {
    private static final HexFormat HEX = HexFormat.ofDelimiter(" ");
    private static final byte[] TRICKY = HEX.parseHex("45 c0 db 00 dc dd c0 c0 db db 01");

    @Test
    void slipEscapesEndAndEscAsRfc1055() {
        assertEquals("c0 45 db dc db dd 00 dc dd db dc db dc db dd db dd 01 c0",
                HEX.formatHex(Framing.SLIP.encode(TRICKY, 0, TRICKY.length)));
    }

    @Test
    void kissAddsTheDataCommandAndEscapesLikeSlip() {
        assertEquals("c0 00 45 db dc db dd 00 dc dd db dc db dc db dd db dd 01 c0",
                HEX.formatHex(Framing.KISS.encode(TRICKY, 0, TRICKY.length)));
    }

    @Test
    void framesSurviveAnySplitOfTheStream() {
        for (Framing f : Framing.values()) {
            byte[] wire = concat(f.encode(TRICKY, 0, TRICKY.length), f.encode(new byte[] {1, 2, 3}, 0, 3));
            for (int cut = 0; cut <= wire.length; cut++) {
                Framing.Decoder d = f.decoder();
                List<byte[]> got = new ArrayList<>(d.feed(wire, 0, cut));
                got.addAll(d.feed(wire, cut, wire.length - cut));
                assertEquals(2, got.size(), f + " cut at " + cut);
                assertArrayEquals(TRICKY, got.get(0));
                assertArrayEquals(new byte[] {1, 2, 3}, got.get(1));
            }
        }
    }

    @Test
    void aBrokenEscapeDropsItsFrameOnly() {
        Framing.Decoder d = Framing.SLIP.decoder();
        List<byte[]> got = d.feed(HEX.parseHex("c0 01 db 07 02 c0 03 04 c0"), 0, 9);
        assertEquals(1, got.size());
        assertArrayEquals(new byte[] {3, 4}, got.get(0));
    }

    @Test
    void kissIgnoresNonDataCommands() {
        Framing.Decoder d = Framing.KISS.decoder();
        // TXDELAY (command 1) and a data frame on port 1 (0x10): only the data frame is a frame
        List<byte[]> got = d.feed(HEX.parseHex("c0 01 32 c0 c0 10 aa bb c0"), 0, 9);
        assertEquals(1, got.size());
        assertArrayEquals(new byte[] {(byte) 0xaa, (byte) 0xbb}, got.get(0));
    }

    @Test
    void execLengthPrefixIsTwoBytesBigEndian() {
        StreamBackend.Codec c = StreamBackend.lengthPrefixed();
        byte[] frame = new byte[300];
        frame[0] = 7;
        byte[] wire = c.encode(frame, 0, frame.length);
        assertEquals("01 2c 07", HEX.formatHex(wire, 0, 3));
        StreamBackend.Codec dec = StreamBackend.lengthPrefixed();
        assertEquals(0, dec.feed(wire, 0, 100).size());
        List<byte[]> got = dec.feed(wire, 100, wire.length - 100);
        assertEquals(1, got.size());
        assertArrayEquals(frame, got.get(0));
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] o = new byte[a.length + b.length];
        System.arraycopy(a, 0, o, 0, a.length);
        System.arraycopy(b, 0, o, a.length, b.length);
        return o;
    }
}
