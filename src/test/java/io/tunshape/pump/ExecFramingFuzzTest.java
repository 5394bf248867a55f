package io.tunshape.pump;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.tunshape.fuzz.Fuzz;
import io.tunshape.fuzz.Mutate;
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
 * The exec backend's framing (a 2-byte big-endian length, then the frame) on any byte stream cut
 * anywhere: no exception, no frame longer than a length can say, memory bounded by the one frame
 * it may be waiting for; encoded frames come back whole and in order. (Here, not in io.tunshape.fuzz:
 * the codec is the pump's own.)
 */
class ExecFramingFuzzTest {
    @Provide
    Arbitrary<byte[]> streams() {
        List<byte[]> seeds = new ArrayList<>();
        StreamBackend.Codec c = StreamBackend.lengthPrefixed();
        for (int n : new int[] {1, 2, 255, 256, 1500}) {
            seeds.add(c.encode(new byte[n], 0, n));
        }
        seeds.add(new byte[] {(byte) 0xFF, (byte) 0xFF, 1, 2, 3});
        seeds.add(new byte[] {0, 0, 0, 0, 0, 1, 7});
        return Mutate.from(seeds, 2000);
    }

    static List<byte[]> feed(byte[] in, long seed) {
        StreamBackend.Codec c = StreamBackend.lengthPrefixed();
        Random r = new Random(seed);
        List<byte[]> out = new ArrayList<>();
        int p = 0;
        while (p < in.length) {
            int n = Math.min(in.length - p, 1 + r.nextInt(300));
            out.addAll(c.feed(in, p, n));
            p += n;
        }
        return out;
    }

    @Property
    void anyStreamDeframesWithoutExceptionAndWithinBounds(@ForAll("streams") byte[] in, @ForAll long cuts) {
        checkStream(in, cuts);
    }

    /**
     * The same with Jazzer (coverage-guided; bench/fuzz.sh, JAZZER_TARGETS): the stream, cut where
     * the input's last 8 bytes say. Its corpus: ExecFramingFuzzTestInputs/execFraming in the test resources.
     */
    @FuzzTest(maxDuration = "10m")
    void execFraming(FuzzedDataProvider data) {
        long cuts = data.consumeLong();
        checkStream(data.consumeRemainingAsBytes(), cuts);
    }

    static void checkStream(byte[] in, long cuts) {
        // each feed copies what waits (at most one 64 KiB frame) once
        Fuzz.check("framing.exec", in, 400, () -> {
            for (byte[] f : feed(in, cuts)) {
                if (f.length == 0 || f.length > 0xFFFF) {
                    throw new AssertionError("a frame of " + f.length + " bytes");
                }
            }
        });
    }

    @Property
    void framesComeBackWholeAndInOrder(@ForAll("frames") List<byte[]> frames, @ForAll long cuts) {
        StreamBackend.Codec c = StreamBackend.lengthPrefixed();
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        for (byte[] f : frames) {
            wire.writeBytes(c.encode(f, 0, f.length));
        }
        List<byte[]> back = feed(wire.toByteArray(), cuts);
        if (back.size() != frames.size()) {
            throw new AssertionError(frames.size() + " frames in, " + back.size() + " out");
        }
        for (int i = 0; i < frames.size(); i++) {
            if (!java.util.Arrays.equals(frames.get(i), back.get(i))) {
                throw new AssertionError("frame " + i + " differs");
            }
        }
    }

    @Provide
    Arbitrary<List<byte[]>> frames() {
        return Arbitraries.randomValue(r -> {
            List<byte[]> l = new ArrayList<>();
            for (int i = r.nextInt(7); i > 0; i--) {
                byte[] f = new byte[1 + r.nextInt(r.nextInt(16) == 0 ? 0xFFFF : 1500)];
                r.nextBytes(f);
                l.add(f);
            }
            return l;
        });
    }

    /** Found here: every read copied what waited, so a frame arriving a byte at a time cost its square. */
    @net.jqwik.api.Example
    void aLargestFrameFedAByteAtATimeIsCopiedOnce() {
        StreamBackend.Codec c = StreamBackend.lengthPrefixed();
        byte[] wire = c.encode(new byte[0xFFFF], 0, 0xFFFF);
        com.sun.management.ThreadMXBean t = (com.sun.management.ThreadMXBean)
                java.lang.management.ManagementFactory.getThreadMXBean();
        long before = t.getThreadAllocatedBytes(Thread.currentThread().getId());
        List<byte[]> out = new ArrayList<>();
        for (int i = 0; i < wire.length; i++) {
            out.addAll(c.feed(wire, i, 1));
        }
        long allocated = t.getThreadAllocatedBytes(Thread.currentThread().getId()) - before;
        if (out.size() != 1 || out.get(0).length != 0xFFFF) {
            throw new AssertionError("the frame did not come back whole");
        }
        // one ArrayList a call and the frame once; copying what waits on each call was 2 GB
        if (allocated > 8L << 20) {
            throw new AssertionError(allocated + " bytes allocated for one 64 KiB frame");
        }
    }

    @AfterContainer
    static void summary() {
        System.out.println("fuzz: inputs tried " + Fuzz.summary());
    }
}
