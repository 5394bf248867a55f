package io.tunshape.pump;

import io.tunshape.sys.Sys;

import java.nio.ByteBuffer;

/**
 * Frames read from the device in one go, back to back in one direct buffer, for backends that can
 * hand several over at once. Frame i is {@link #length}(i) bytes at {@link #address}(i), or as a
 * buffer {@link #frame}(i) (position to limit).
 */
public final class Batch {
    /** The most frames in a batch. */
    public static final int MAX_FRAMES = 64;
    /** Room for the largest frame a device can give. */
    static final int MAX_FRAME = 65_536;
    private final ByteBuffer buf = ByteBuffer.allocateDirect(MAX_FRAMES * 2048 + MAX_FRAME);
    private final long base = Sys.address(buf);
    private final ByteBuffer[] views = new ByteBuffer[MAX_FRAMES];
    private final long[] addrs = new long[MAX_FRAMES];
    private final int[] lens = new int[MAX_FRAMES];
    private int count;
    private int used;

    public Batch() {
        for (int i = 0; i < MAX_FRAMES; i++) {
            views[i] = buf.duplicate();
        }
    }

    void clear() {
        count = 0;
        used = 0;
    }

    /** Whether another frame of any size fits. */
    boolean hasRoom() {
        return count < MAX_FRAMES && buf.capacity() - used >= MAX_FRAME;
    }

    /** Where the next frame goes. */
    long nextAddress() {
        return base + used;
    }

    /** The next frame, {@code len} bytes, is in place. */
    void add(int len) {
        addrs[count] = base + used;
        lens[count] = len;
        ByteBuffer v = views[count];
        v.limit(used + len).position(used);
        count++;
        used += (len + 63) & ~63; // the next frame starts cache-line aligned
    }

    public int count() {
        return count;
    }

    public ByteBuffer frame(int i) {
        return views[i];
    }

    public long address(int i) {
        return addrs[i];
    }

    public int length(int i) {
        return lens[i];
    }

    long[] addresses() {
        return addrs;
    }

    int[] lengths() {
        return lens;
    }

    int bytes() {
        int sum = 0;
        for (int i = 0; i < count; i++) {
            sum += lens[i];
        }
        return sum;
    }
}
