package io.tunshape.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** One received netlink message, copied out of the receive buffer. Offsets are within {@link #buffer()}. */
public final class Message {
    private final ByteBuffer buf;

    public Message(byte[] bytes) {
        if (bytes.length < Nl.HDRLEN) {
            throw new MalformedMessageException("a message of " + bytes.length + " bytes is shorter than its "
                    + Nl.HDRLEN + "-byte header");
        }
        this.buf = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
    }

    /**
     * Splits the first {@code n} bytes of a datagram into messages, each copied out. It stops at the
     * first header whose length is below the header's or runs past the datagram (what follows cannot
     * be framed), as the kernel's nlmsg_ok does.
     */
    public static java.util.List<Message> split(ByteBuffer rx, long n) {
        java.util.List<Message> out = new java.util.ArrayList<>(4);
        long end = Math.min(n, rx.capacity());
        int p = 0;
        while (p + Nl.HDRLEN <= end) {
            int len = rx.getInt(p);
            if (len < Nl.HDRLEN || p + (long) len > end) {
                break;
            }
            byte[] b = new byte[len];
            rx.get(p, b);
            out.add(new Message(b));
            p += Nl.align(len);
        }
        return out;
    }

    /**
     * The offset after a family header of {@code familyLen} bytes, which must be there whole: a
     * decoder calls this before it reads the header's fields.
     */
    public int requireFamily(int familyLen, String what) {
        if (buf.capacity() < Nl.HDRLEN + familyLen) {
            throw new MalformedMessageException(what + " of " + buf.capacity() + " bytes is shorter than its "
                    + (Nl.HDRLEN + familyLen) + "-byte headers");
        }
        return Nl.HDRLEN;
    }

    /**
     * The family header of {@code familyLen} bytes to read (checked as {@link #requireFamily} does), as a
     * buffer in host order positioned at its first byte.
     */
    public ByteBuffer family(int familyLen, String what) {
        int at = requireFamily(familyLen, what);
        return buf.duplicate().order(ByteOrder.nativeOrder()).position(at);
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
