package io.tunshape.fuzz;

import io.tunshape.pump.Framing;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * SLIP and KISS de-framing on any byte stream cut anywhere: never an exception (none is
 * documented: a broken escape drops its frame), no frame over the 64 KiB bound, memory bounded;
 * and frames encoded then cut into random pieces come back whole and in order.
 */
class FramingFuzzTest {
    static final int MAX_FRAME = 65536;

    /** Streams rich in the special bytes: END/FEND 0xC0, ESC/FESC 0xDB, 0xDC, 0xDD, KISS commands. */
    @Provide
    Arbitrary<byte[]> streams() {
        Arbitrary<byte[]> mixed = Arbitraries.randomValue(r -> special(r, r.nextInt(600)));
        List<byte[]> seeds = new ArrayList<>();
        Random r = new Random(1);
        for (Framing f : Framing.values()) {
            for (int n : new int[] {1, 2, 20, 300}) {
                byte[] frame = new byte[n];
                r.nextBytes(frame);
                frame[0] = (byte) 0xC0;
                seeds.add(f.encode(frame, 0, n));
            }
        }
        return Arbitraries.oneOf(mixed, Mutate.from(seeds, 600));
    }

    /** Feeds {@code in} in pieces whose ends come from {@code seed}; returns the frames. */
    static List<byte[]> feedInPieces(Framing f, byte[] in, long seed) {
        Framing.Decoder d = f.decoder();
        Random r = new Random(seed);
        List<byte[]> out = new ArrayList<>();
        int p = 0;
        while (p < in.length) {
            int n = Math.min(in.length - p, 1 + r.nextInt(64));
            out.addAll(d.feed(in, p, n));
            p += n;
        }
        return out;
    }

    @Property
    void slipAndKissDeframeAnyStreamWithoutExceptionOrOversizedFrames(@ForAll("streams") byte[] in,
                                                                      @ForAll long cuts) {
        checkStream(in, cuts);
    }

    /** SLIP's and KISS's invariant on one stream cut where {@code cuts} says (shared with Jazzer). */
    static void checkStream(byte[] in, long cuts) {
        for (Framing f : Framing.values()) {
            Fuzz.check("framing." + f.name().toLowerCase(), in, 16, () -> {
                for (byte[] frame : feedInPieces(f, in, cuts)) {
                    if (frame.length == 0 || frame.length > MAX_FRAME) {
                        throw new AssertionError("a frame of " + frame.length + " bytes");
                    }
                }
            });
        }
    }

    @Property
    void framesComeBackWholeAndInOrderWhateverTheCuts(@ForAll("frameLists") List<byte[]> frames,
                                                       @ForAll long cuts) {
        for (Framing f : Framing.values()) {
            ByteArrayOutputStream wire = new ByteArrayOutputStream();
            for (byte[] fr : frames) {
                wire.writeBytes(f.encode(fr, 0, fr.length));
            }
            List<byte[]> back = feedInPieces(f, wire.toByteArray(), cuts);
            if (back.size() != frames.size()) {
                throw new AssertionError(f + ": " + frames.size() + " frames in, " + back.size() + " out");
            }
            for (int i = 0; i < frames.size(); i++) {
                if (!java.util.Arrays.equals(frames.get(i), back.get(i))) {
                    throw new AssertionError(f + ": frame " + i + " differs");
                }
            }
        }
    }

    @Provide
    Arbitrary<List<byte[]>> frameLists() {
        return Arbitraries.randomValue(r -> {
            List<byte[]> l = new ArrayList<>();
            for (int i = r.nextInt(9); i > 0; i--) {
                l.add(special(r, 1 + r.nextInt(400)));
            }
            return l;
        });
    }

    /** Random bytes, a third of them the framings' special ones. */
    static byte[] special(Random r, int n) {
        byte[] sp = {(byte) 0xC0, (byte) 0xDB, (byte) 0xDC, (byte) 0xDD, 0x00, 0x10, 0x0F};
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = r.nextInt(3) == 0 ? sp[r.nextInt(sp.length)] : (byte) r.nextInt(256);
        }
        return b;
    }

    @AfterContainer
    static void summary() {
        System.out.println("fuzz: inputs tried " + Fuzz.summary());
    }
}
