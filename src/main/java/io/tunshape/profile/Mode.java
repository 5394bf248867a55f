package io.tunshape.profile;

import java.util.Locale;

/** How the queue is sized: to hold the senders' socket buffers (nothing dropped) or to bound the wait. */
public enum Mode {
    BACKPRESSURE, LATENCY;

    public String word() {
        return name().toLowerCase(Locale.ROOT);
    }
}
