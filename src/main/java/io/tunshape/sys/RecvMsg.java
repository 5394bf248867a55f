package io.tunshape.sys;

import com.sun.jna.LastErrorException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** recvmsg(2): a datagram with its control messages (credentials, timestamps, a namespace id). */
public final class RecvMsg {
    private RecvMsg() {
    }

    /** Sees one control message of a datagram: its level, type, and where its data starts in {@code control}. */
    public interface Visitor {
        void visit(int level, int type, ByteBuffer control, int dataOffset, int dataLength);
    }

    /** A recvmsg's msghdr, iovec and control buffer, kept by their user so that a receive allocates nothing. */
    public static final class Buffers {
        final ByteBuffer msghdr = ByteBuffer.allocateDirect(56).order(ByteOrder.nativeOrder());
        final ByteBuffer iov = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder());
        final ByteBuffer control;

        public Buffers(int controlBytes) {
            control = ByteBuffer.allocateDirect(controlBytes).order(ByteOrder.nativeOrder());
        }
    }

    /**
     * recvmsg into {@code buf} (from position 0, up to its capacity), showing each control message to
     * {@code v}. Returns the datagram's length (larger than buf when truncated, with MSG_TRUNC).
     */
    public static long receive(Fd fd, ByteBuffer buf, int flags, Buffers m, Visitor v) {
        ByteBuffer control = m.control;
        m.iov.putLong(0, Sys.address(buf)).putLong(8, buf.capacity());
        for (int i = 0; i < control.capacity(); i++) {
            control.put(i, (byte) 0);
        }
        m.msghdr.putLong(0, 0).putInt(8, 0).putInt(12, 0)
                .putLong(16, Sys.address(m.iov)).putLong(24, 1)
                .putLong(32, Sys.address(control)).putLong(40, control.capacity()).putInt(48, 0);
        int n = fd.acquire();
        long r;
        try {
            r = LibC.recvmsg(n, m.msghdr, flags);
        } catch (LastErrorException e) {
            throw new NativeException("recvmsg", e.getErrorCode());
        } finally {
            fd.release();
        }
        long controlLen = Math.min(m.msghdr.getLong(40), control.capacity());
        for (int off = 0; off + 16 <= controlLen; ) {
            long len = control.getLong(off);
            if (len < 16 || off + len > controlLen) {
                break;
            }
            v.visit(control.getInt(off + 8), control.getInt(off + 12), control, off + 16, (int) len - 16);
            off += (int) ((len + 7) & ~7L);
        }
        return r;
    }

    private static final ThreadLocal<Buffers> CMSG_INT_BUFFERS = ThreadLocal.withInitial(() -> new Buffers(64));

    /**
     * recvmsg with {@code out[0]} set to the int carried by the control message {@code level}/{@code
     * type} (e.g. SOL_NETLINK/NETLINK_LISTEN_ALL_NSID: the namespace a multicast came from), or
     * {@link Sys#NO_CMSG}.
     */
    static long withInt(Fd fd, ByteBuffer buf, int flags, int level, int type, int[] out) {
        out[0] = Sys.NO_CMSG;
        return receive(fd, buf, flags, CMSG_INT_BUFFERS.get(), (l, t, c, at, len) -> {
            if (l == level && t == type && len >= 4) {
                out[0] = c.getInt(at);
            }
        });
    }
}
