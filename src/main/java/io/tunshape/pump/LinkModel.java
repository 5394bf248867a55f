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

    /** Emulation at a fixed rate: a frame takes bytes / rate. */
    static LinkModel rate(long bytesPerSecond) {
        return (bytes, start) -> start + (long) Math.ceil(bytes * 1e9 / bytesPerSecond);
    }
}
