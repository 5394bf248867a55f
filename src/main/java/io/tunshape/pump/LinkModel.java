package io.tunshape.pump;

/**
 * Capacity emulation: when a frame at the head of the pump's queue finishes crossing the emulated
 * link. Pure arithmetic on a nanosecond clock, so tests drive it without waiting.
 */
public interface LinkModel {
    /**
     * The frame of {@code bytes} became head of line at {@code start} (nanoseconds, the clock of
     * System.nanoTime); returns when it has crossed the link.
     */
    long finish(int bytes, long start);

    /**
     * How many of the frame's bytes have crossed by {@code now}, for a frame crossing from
     * {@code start} to {@code finish}: lets a measurement interval count a frame still in flight.
     */
    default long progress(int bytes, long start, long finish, long now) {
        if (now >= finish || finish <= start) {
            return bytes;
        }
        return now <= start ? 0 : (long) ((double) bytes * (now - start) / (finish - start));
    }

    /** Emulation at a fixed rate: a frame takes bytes / rate. */
    static LinkModel rate(long bytesPerSecond) {
        return (bytes, start) -> start + (long) Math.ceil(bytes * 1e9 / bytesPerSecond);
    }
}
