package io.tunshape.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The attributes of one level of a netlink message, indexed by type (the last one wins, as in the
 * kernel's nla_parse). Values are views into the message; read them before it is reused.
 */
public final class Attrs {
    private final ByteBuffer buf;
    private final int[] offset;
    private final int[] length;

    private Attrs(ByteBuffer buf, int[] offset, int[] length) {
        this.buf = buf;
        this.offset = offset;
        this.length = length;
    }

    /** Parses attributes in buf[from, to), keeping types up to maxType. */
    public static Attrs parse(ByteBuffer buf, int from, int to, int maxType) {
        int[] off = new int[maxType + 1];
        int[] len = new int[maxType + 1];
        java.util.Arrays.fill(off, -1);
        int p = from;
        while (p + 4 <= to) {
            int l = Short.toUnsignedInt(buf.getShort(p));
            int t = Short.toUnsignedInt(buf.getShort(p + 2)) & Nl.NLA_TYPE_MASK;
            if (l < 4 || p + l > to) {
                break; // truncated: stop, as the kernel does
            }
            if (t <= maxType) {
                off[t] = p + 4;
                len[t] = l - 4;
            }
            p += Nl.align(l);
        }
        return new Attrs(buf.duplicate().order(ByteOrder.nativeOrder()), off, len);
    }

    public boolean has(int type) {
        return type < offset.length && offset[type] >= 0;
    }

    public int length(int type) {
        return has(type) ? length[type] : -1;
    }

    /** Absolute offset of the payload in the message buffer; the attribute must be there. */
    public int offset(int type) {
        return require(type, 0, "attribute " + type);
    }

    /**
     * The offset of an attribute that must be there with at least {@code minLen} bytes (a struct's
     * size): a missing or short one is a {@link MalformedMessageException} naming {@code what},
     * never a read of the bytes after it.
     */
    public int require(int type, int minLen, String what) {
        if (!has(type)) {
            throw new MalformedMessageException(what + " is missing");
        }
        if (length[type] < minLen) {
            throw new MalformedMessageException(what + " has " + length[type] + " bytes; at least " + minLen
                    + " expected");
        }
        return offset[type];
    }

    public ByteBuffer buffer() {
        return buf;
    }

    /**
     * A struct attribute to read: its payload, which must hold at least {@code minLen} bytes (see
     * {@link #require}), as a buffer in host order positioned at its first byte.
     */
    public ByteBuffer struct(int type, int minLen, String what) {
        int at = require(type, minLen, what);
        return buf.duplicate().order(ByteOrder.nativeOrder()).position(at);
    }

    public Attrs nested(int type, int maxType) {
        if (!has(type)) {
            return parse(buf, 0, 0, maxType);
        }
        return parse(buf, offset[type], offset[type] + length[type], maxType);
    }

    public int u8(int type) {
        return Byte.toUnsignedInt(buf.get(require(type, 1, "u8 attribute " + type)));
    }

    public long u32(int type) {
        return Integer.toUnsignedLong(buf.getInt(require(type, 4, "u32 attribute " + type)));
    }

    public long u64(int type) {
        return buf.getLong(require(type, 8, "u64 attribute " + type));
    }

    public long u32Or(int type, long dflt) {
        return has(type) && length[type] >= 4 ? u32(type) : dflt;
    }

    public String string(int type) {
        if (!has(type)) {
            return null;
        }
        int n = length[type];
        byte[] b = new byte[n];
        buf.get(offset[type], b);
        int end = 0;
        while (end < n && b[end] != 0) {
            end++;
        }
        return new String(b, 0, end, StandardCharsets.UTF_8);
    }

    public byte[] bytes(int type) {
        int o = require(type, 0, "attribute " + type);
        byte[] b = new byte[length[type]];
        buf.get(o, b);
        return b;
    }
}
