package io.tunshape.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** One received netlink message, copied out of the receive buffer. Offsets are within {@link #buffer()}. */
public final class Message {
    private final ByteBuffer buf;

    public Message(byte[] bytes) {
        this.buf = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
    }

    public ByteBuffer buffer() {
        return buf;
    }

    public int length() {
        return buf.capacity();
    }

    public int type() {
        return Short.toUnsignedInt(buf.getShort(4));
    }

    public int flags() {
        return Short.toUnsignedInt(buf.getShort(6));
    }

    public int seq() {
        return buf.getInt(8);
    }

    public int pid() {
        return buf.getInt(12);
    }

    /** Attributes that follow a family header of {@code familyLen} bytes. */
    public Attrs attrs(int familyLen, int maxType) {
        return Attrs.parse(buf, Nl.HDRLEN + Nl.align(familyLen), buf.capacity(), maxType);
    }
}
