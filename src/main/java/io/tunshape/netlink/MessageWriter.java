package io.tunshape.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Builds one netlink message in host byte order: header, a fixed family struct, then attributes,
 * each padded to 4 bytes with zeros (as iproute2 does, so the bytes match tc's).
 */
public final class MessageWriter {
    private ByteBuffer buf;
    private final int type;
    private final int flags;

    public MessageWriter(int type, int flags) {
        this.type = type;
        this.flags = flags;
        // most messages are some hundred bytes; one with rate tables grows (twice) to what it needs
        this.buf = ByteBuffer.allocate(512).order(ByteOrder.nativeOrder());
        buf.putInt(0).putShort((short) type).putShort((short) flags).putInt(0).putInt(0);
    }

    public int type() {
        return type;
    }

    public int flags() {
        return flags;
    }

    private void ensure(int n) {
        if (buf.remaining() < n) {
            ByteBuffer bigger = ByteBuffer.allocate(Math.max(buf.capacity() * 2, buf.position() + n))
                    .order(ByteOrder.nativeOrder());
            buf.flip();
            bigger.put(buf);
            buf = bigger;
        }
    }

    public MessageWriter u8(int v) {
        ensure(1);
        buf.put((byte) v);
        return this;
    }

    public MessageWriter u16(int v) {
        ensure(2);
        buf.putShort((short) v);
        return this;
    }

    public MessageWriter u32(long v) {
        ensure(4);
        buf.putInt((int) v);
        return this;
    }

    public MessageWriter u64(long v) {
        ensure(8);
        buf.putLong(v);
        return this;
    }

    public MessageWriter bytes(byte[] b) {
        ensure(b.length);
        buf.put(b);
        return this;
    }

    private void pad() {
        int p = Nl.align(buf.position()) - buf.position();
        ensure(p);
        for (int i = 0; i < p; i++) {
            buf.put((byte) 0);
        }
    }

    public MessageWriter attr(int attrType, byte[] payload) {
        ensure(4 + payload.length + 3);
        buf.putShort((short) (4 + payload.length)).putShort((short) attrType).put(payload);
        pad();
        return this;
    }

    public MessageWriter attrU32(int attrType, long v) {
        ensure(8);
        buf.putShort((short) 8).putShort((short) attrType).putInt((int) v);
        return this;
    }

    public MessageWriter attrU64(int attrType, long v) {
        ensure(12);
        buf.putShort((short) 12).putShort((short) attrType).putLong(v);
        return this;
    }

    /** A NUL-terminated string attribute. */
    public MessageWriter attrString(int attrType, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return attr(attrType, Arrays.copyOf(b, b.length + 1));
    }

    /** Starts a nested attribute; returns its offset for {@link #endNest(int)}. */
    public int beginNest(int attrType) {
        pad();
        ensure(4);
        int at = buf.position();
        buf.putShort((short) 0).putShort((short) attrType);
        return at;
    }

    public MessageWriter endNest(int at) {
        pad();
        buf.putShort(at, (short) (buf.position() - at));
        return this;
    }

    /**
     * The next {@code n} bytes of the message (zeros), as a view in host order for a struct to put
     * itself into; the message goes on after them. Fill it before writing anything else: a write that
     * grows the message moves it, and the view then points at the old copy.
     */
    public ByteBuffer reserve(int n) {
        ensure(n);
        ByteBuffer b = buf.slice(buf.position(), n).order(ByteOrder.nativeOrder());
        buf.position(buf.position() + n);
        return b;
    }

    /** Starts a raw struct attribute written with u8/u16/u32 calls; closed with {@link #endNest}. */
    public int beginAttr(int attrType) {
        return beginNest(attrType);
    }

    private MessageWriter(MessageWriter from) {
        this.type = from.type;
        this.flags = from.flags;
        this.buf = ByteBuffer.allocate(from.buf.position()).order(ByteOrder.nativeOrder());
        this.buf.put(from.buf.array(), 0, from.buf.position());
    }

    /**
     * A copy with the u32 at {@code offset} replaced: requests for devices alike differ only in
     * their ifindex, so they are encoded once and copied.
     */
    public MessageWriter withU32At(int offset, long value) {
        MessageWriter m = new MessageWriter(this);
        m.buf.putInt(offset, (int) value);
        return m;
    }

    /** The buffer being written, to patch a fixed header field in place. */
    public ByteBuffer peek() {
        return buf;
    }

    public int length() {
        return buf.position();
    }

    /** Writes the message with {@code seq} into {@code dst} at its position, without a copy in between. */
    public void writeTo(ByteBuffer dst, int seq) {
        pad(); // (length() is the unpadded one: pad first)
        int at = dst.position();
        dst.put(buf.array(), 0, buf.position());
        dst.putInt(at, buf.position());
        dst.putInt(at + 8, seq);
    }

    /** The finished message with the given sequence number and port id 0. */
    public byte[] toBytes(int seq) {
        pad();
        ByteBuffer b = ByteBuffer.allocate(buf.position()).order(ByteOrder.nativeOrder());
        writeTo(b, seq);
        return b.array();
    }
}
