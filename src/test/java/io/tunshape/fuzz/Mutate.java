package io.tunshape.fuzz;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Inputs for decoders: valid seeds mutated the ways that break parsers (bytes flipped, length
 * fields that lie, truncation, junk appended, pieces of two seeds spliced), and plain random bytes.
 */
public final class Mutate {
    private static final int[] INTERESTING = {0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 20, 31, 32, 36, 0x7F, 0x80, 0xFF,
        0x100, 0x7FFF, 0x8000, 0xFFFF};

    private Mutate() {
    }

    /** Mostly mutated seeds, some untouched seeds, some random bytes up to {@code maxRandom}. */
    public static Arbitrary<byte[]> from(List<byte[]> seeds, int maxRandom) {
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(16, Arbitraries.randomValue(r -> mutate(seeds, r))),
                net.jqwik.api.Tuple.of(1, Arbitraries.of(seeds)),
                net.jqwik.api.Tuple.of(3, Arbitraries.bytes().array(byte[].class).ofMaxSize(maxRandom)));
    }

    static byte[] mutate(List<byte[]> seeds, Random r) {
        byte[] b = seeds.get(r.nextInt(seeds.size())).clone();
        int ops = 1 + r.nextInt(4);
        for (int i = 0; i < ops; i++) {
            b = once(b, seeds, r);
        }
        return b;
    }

    private static byte[] once(byte[] b, List<byte[]> seeds, Random r) {
        int n = b.length;
        switch (r.nextInt(8)) {
            case 0: // flip bits
                if (n > 0) {
                    b[r.nextInt(n)] ^= (byte) (1 << r.nextInt(8));
                }
                return b;
            case 1: // an interesting byte
                if (n > 0) {
                    b[r.nextInt(n)] = (byte) INTERESTING[r.nextInt(INTERESTING.length)];
                }
                return b;
            case 2: // a 16-bit length that lies, at a 4-aligned place (netlink attribute and header lengths)
            case 3:
                if (n >= 2) {
                    int at = (r.nextInt(Math.max(1, n / 4))) * 4;
                    if (at + 2 <= n) {
                        int v = r.nextBoolean() ? INTERESTING[r.nextInt(INTERESTING.length)] : r.nextInt(n + 16);
                        ByteBuffer.wrap(b).order(ByteOrder.nativeOrder()).putShort(at, (short) v);
                    }
                }
                return b;
            case 4: // a 32-bit value that lies (nlmsg_len, counts)
                if (n >= 4) {
                    int at = r.nextInt(n / 4) * 4;
                    int v = r.nextInt(4) == 0 ? r.nextInt() : r.nextInt(n + 64);
                    ByteBuffer.wrap(b).order(ByteOrder.nativeOrder()).putInt(at, v);
                }
                return b;
            case 5: // truncate
                return Arrays.copyOf(b, n == 0 ? 0 : r.nextInt(n));
            case 6: // junk appended
                byte[] x = Arrays.copyOf(b, n + 1 + r.nextInt(64));
                for (int i = n; i < x.length; i++) {
                    x[i] = (byte) r.nextInt(256);
                }
                return x;
            default: // splice: our head, another seed's tail
                byte[] o = seeds.get(r.nextInt(seeds.size()));
                int cut = n == 0 ? 0 : r.nextInt(n);
                int from = o.length == 0 ? 0 : r.nextInt(o.length);
                byte[] y = Arrays.copyOf(b, cut + o.length - from);
                System.arraycopy(o, from, y, cut, o.length - from);
                return y;
        }
    }
}
