package io.tunshape.pump;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where the pump hands frames read from the device, and where frames for the device come from.
 * {@link #send} may block while the backend is busy (that time is the backend's busy time);
 * {@link #receive} waits at most {@code timeoutMs}. Either throws {@link IOException} when the
 * backend is down; the pump then logs once and calls {@link #open} again with backoff.
 */
public interface Backend extends AutoCloseable {
    /** Opens (or reopens) the backend. */
    void open() throws IOException;

    /** Hands one frame (position to limit) to the backend. */
    void send(ByteBuffer frame) throws IOException;

    /**
     * Hands a batch of frames over, in order. Backends that can pass several at once (udp, with
     * segmentation offload) override this; the rest send them one by one.
     */
    default void send(Batch batch) throws IOException {
        for (int i = 0; i < batch.count(); i++) {
            send(batch.frame(i));
        }
    }

    /**
     * Reads the next frame from the backend into {@code buf} (cleared first); false when none came
     * within the timeout. Backends that never deliver frames just wait.
     */
    boolean receive(ByteBuffer buf, int timeoutMs) throws IOException;

    /**
     * Receives what the backend has now into an empty batch (at least one frame, waiting at most
     * {@code timeoutMs} for it); returns the frame count, 0 when none came. Backends that can hand
     * several over at once (udp, with UDP_GRO) override this; the rest give one frame a call.
     */
    default int receive(Batch batch, int timeoutMs) throws IOException {
        ByteBuffer b = batch.firstSlot();
        if (!receive(b, timeoutMs)) {
            return 0;
        }
        batch.addAt(b.position(), b.remaining());
        batch.advance(b.limit());
        return 1;
    }

    /**
     * Whether what was sent since {@link #open} is known to arrive. A datagram backend learns of a
     * missing peer only from a later ICMP error, so it says yes only when none came for a while or
     * the peer has been heard from; the pump says "up again" only then.
     */
    default boolean confirmed() {
        return true;
    }

    /** "udp 198.18.0.2:9000", for logs. */
    String describe();

    @Override
    void close();

    /** For backends that never deliver frames: wait out the receive timeout, deliver nothing. */
    static boolean idle(int timeoutMs) {
        try {
            Thread.sleep(timeoutMs);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return false;
    }
}
