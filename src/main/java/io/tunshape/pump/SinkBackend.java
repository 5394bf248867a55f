package io.tunshape.pump;

import java.nio.ByteBuffer;

/** A link with nobody at the other end: frames are consumed and discarded. */
public final class SinkBackend implements Backend {
    @Override
    public void open() {
    }

    @Override
    public void send(ByteBuffer frame) {
        frame.position(frame.limit());
    }

    @Override
    public boolean receive(ByteBuffer buf, int timeoutMs) {
        return Backend.idle(timeoutMs);
    }

    @Override
    public String describe() {
        return "sink";
    }

    @Override
    public void close() {
    }
}
