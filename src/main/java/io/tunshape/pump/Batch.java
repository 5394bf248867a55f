package io.tunshape.pump;

import io.tunshape.sys.Sys;

import java.nio.ByteBuffer;

/**
 * Frames moved together, back to back in one direct buffer: read from the device in one go for
 * backends that can hand several over at once, or received from a backend in one go for the
 * device. Frame i is {@link #length}(i) bytes at {@link #address}(i) (native) or
 * {@link #offset}(i) in {@link #buffer()}, or as a buffer {@link #frame}(i) (position to limit).
 */
public final class Batch {
    /** The most frames in a batch. */
    public static final int MAX_FRAMES = 128;
    /** Room for the largest frame a device can give. */
    static final int MAX_FRAME = 65_536;
    private final ByteBuffer buf = ByteBuffer.allocateDirect(MAX_FRAMES * 2048 + MAX_FRAME);
    private final long base = Sys.address(buf);
    private final ByteBuffer[] views = new ByteBuffer[MAX_FRAMES];
    private final long[] addrs = new long[MAX_FRAMES];
    private final int[] offs = new int[MAX_FRAMES];
    private final int[] lens = new int[MAX_FRAMES];
    /** The whole buffer from 0, for backends that receive one frame at a time into it. */
    private final ByteBuffer first = buf.duplicate().limit(MAX_FRAME).slice();
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

    /** Where the next frame goes, as an offset in {@link #buffer()}. */
    int used() {
        return used;
    }

    /** Bytes free after {@link #used()}. */
    int room() {
        return buf.capacity() - used;
    }

    /** Frames that may still be added. */
    int slots() {
        return MAX_FRAMES - count;
    }

    /** The next frame, {@code len} bytes, is in place. */
    void add(int len) {
        addAt(used, len);
        used += (len + 63) & ~63; // the next frame starts cache-line aligned
    }

    /** A frame of {@code len} bytes at {@code offset}, which a receive put there ({@link #advance} past it). */
    void addAt(int offset, int len) {
        addrs[count] = base + offset;
        offs[count] = offset;
        lens[count] = len;
        ByteBuffer v = views[count];
        v.limit(offset + len).position(offset);
        count++;
    }

    /** Frames were put at {@link #used()}, {@code bytes} in all. */
    void advance(int bytes) {
        used += (bytes + 63) & ~63;
    }

    /** The buffer the frames are in (big-endian, absolute offsets). */
    ByteBuffer buffer() {
        return buf;
    }

    /** The first {@link #MAX_FRAME} bytes, for one frame received at offset 0 of an empty batch. */
    ByteBuffer firstSlot() {
        return first;
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

    public int offset(int i) {
        return offs[i];
    }

    public int length(int i) {
        return lens[i];
    }

    long[] addresses() {
        return addrs;
    }

    int[] offsets() {
        return offs;
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
