package io.tunshape.netlink;

import java.nio.ByteBuffer;
import java.util.List;

/** A successful acknowledgement, with the warnings the kernel attached (extended ack on success). */
public record Ack(List<String> warnings) {
    public static final Ack EMPTY = new Ack(List.of());

    /** Reads an NLMSG_ERROR: an exception for an error, the warnings for a success. */
    public static Ack of(Message r) {
        ByteBuffer b = r.buffer();
        // struct nlmsgerr: the error, then the request's header (and its payload unless capped)
        r.requireFamily(4 + Nl.HDRLEN, "an error message");
        int error = b.getInt(Nl.HDRLEN);
        long origLen = Integer.toUnsignedLong(b.getInt(Nl.HDRLEN + 4));
        boolean capped = (r.flags() & Nl.F_CAPPED) != 0;
        long tlvStart = Nl.HDRLEN + 4 + (capped ? Nl.HDRLEN : Math.max(Nl.HDRLEN, (origLen + 3) & ~3L));
        // an echo that claims more than the message holds leaves no room for TLVs: the errno still stands
        boolean tlvs = (r.flags() & Nl.F_ACK_TLVS) != 0 && tlvStart < r.length();
        String msg = tlvs ? extackMessage(r, (int) tlvStart) : null;
        if (error < 0) {
            int off = -1;
            if (tlvs) {
                Attrs a = Attrs.parse(b, (int) tlvStart, r.length(), Nl.NLMSGERR_ATTR_OFFS);
                off = (int) a.u32Or(Nl.NLMSGERR_ATTR_OFFS, -1);
            }
            throw new NetlinkException(-error, msg, off);
        }
        return msg == null ? Ack.EMPTY : new Ack(List.of(msg));
    }

    static String extackMessage(Message r, int from) {
        if (from >= r.length()) {
            return null;
        }
        Attrs a = Attrs.parse(r.buffer(), from, r.length(), Nl.NLMSGERR_ATTR_OFFS);
        if (!a.has(Nl.NLMSGERR_ATTR_MSG)) {
            return null;
        }
        String s = a.string(Nl.NLMSGERR_ATTR_MSG);
        return s == null || s.isEmpty() ? null : s;
    }
}
