package io.tunshape.sys;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * A Unix datagram socket (the JDK has none): for the report protocol and systemd's notify socket.
 * A path starting with '@' names an abstract socket, as systemd's NOTIFY_SOCKET may.
 */
public final class UnixDatagram implements AutoCloseable {
    private static final int AF_UNIX = 1;
    private static final int SOCK_DGRAM = 2;
    private final Fd fd;

    public UnixDatagram() {
        this.fd = Sys.socket(AF_UNIX, SOCK_DGRAM | Sys.SOCK_CLOEXEC, 0);
    }

    public Fd fd() {
        return fd;
    }

    /** sockaddr_un for a path (or an abstract name after '@'). */
    public static ByteBuffer address(String path) {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        if (p.length >= 108) {
            throw new IllegalArgumentException("socket path is longer than 107 bytes: " + path);
        }
        boolean abstractName = path.startsWith("@");
        ByteBuffer a = ByteBuffer.allocateDirect(2 + p.length + (abstractName ? 0 : 1)).order(ByteOrder.nativeOrder());
        a.putShort((short) AF_UNIX);
        if (abstractName) {
            a.put((byte) 0).put(p, 1, p.length - 1);
        } else {
            a.put(p).put((byte) 0);
        }
        return a.flip();
    }

    public void bind(String path) {
        Sys.bind(fd, address(path));
    }

    /** Sends one datagram without blocking; throws {@link NativeException} when it cannot. */
    public void send(ByteBuffer data, ByteBuffer address) {
        Sys.sendto(fd, data, Sys.MSG_DONTWAIT, address.duplicate());
    }

    /** The sender of a datagram, as the kernel vouches for it (SO_PASSCRED). */
    public record Credentials(int pid, int uid, int gid) {
    }

    private static final int SO_PASSCRED = 16;
    private static final int SCM_CREDENTIALS = 2;
    private final ByteBuffer msghdr = ByteBuffer.allocateDirect(56).order(ByteOrder.nativeOrder());
    private final ByteBuffer iov = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder());
    private static final int SO_TIMESTAMPNS = 35;
    private final ByteBuffer control = ByteBuffer.allocateDirect(128).order(ByteOrder.nativeOrder());
    private Credentials lastSender;
    private long lastArrival = -1;

    /** Asks the kernel to attach each sender's pid, uid and gid to what it delivers. */
    public void passCredentials() {
        Sys.setsockopt(fd, Sys.SOL_SOCKET, SO_PASSCRED, 1);
    }

    /** Asks the kernel to stamp each datagram with when it arrived ({@link #lastArrivalNanos()}). */
    public void stampArrivals() {
        Sys.setsockopt(fd, Sys.SOL_SOCKET, SO_TIMESTAMPNS, 1);
    }

    /**
     * Receives one datagram into buf (from 0) with its sender's credentials ({@link #lastSender()},
     * null when the kernel gave none); returns its true length, larger than buf when truncated.
     */
    public int receiveWithSender(ByteBuffer buf) {
        long bufAddr = com.sun.jna.Pointer.nativeValue(com.sun.jna.Native.getDirectBufferPointer(buf));
        iov.putLong(0, bufAddr).putLong(8, buf.capacity());
        control.clear();
        for (int i = 0; i < control.capacity(); i++) {
            control.put(i, (byte) 0);
        }
        msghdr.putLong(0, 0).putInt(8, 0).putInt(12, 0)
                .putLong(16, com.sun.jna.Pointer.nativeValue(com.sun.jna.Native.getDirectBufferPointer(iov)))
                .putLong(24, 1)
                .putLong(32, com.sun.jna.Pointer.nativeValue(com.sun.jna.Native.getDirectBufferPointer(control)))
                .putLong(40, control.capacity()).putInt(48, 0);
        int n = fd.acquire();
        long r;
        try {
            r = LibC.recvmsg(n, msghdr, Sys.MSG_TRUNC);
        } catch (com.sun.jna.LastErrorException e) {
            throw new NativeException("recvmsg", e.getErrorCode());
        } finally {
            fd.release();
        }
        lastSender = null;
        lastArrival = -1;
        long controlLen = Math.min(msghdr.getLong(40), control.capacity());
        for (int off = 0; off + 16 <= controlLen; ) {
            long len = control.getLong(off);
            if (len < 16 || off + len > controlLen) {
                break;
            }
            int level = control.getInt(off + 8);
            int type = control.getInt(off + 12);
            if (level == Sys.SOL_SOCKET && type == SCM_CREDENTIALS && len >= 16 + 12) {
                lastSender = new Credentials(control.getInt(off + 16), control.getInt(off + 20), control.getInt(off + 24));
            } else if (level == Sys.SOL_SOCKET && type == SO_TIMESTAMPNS && len >= 16 + 16) {
                lastArrival = control.getLong(off + 16) * 1_000_000_000L + control.getLong(off + 24);
            }
            off += (int) ((len + 7) & ~7L);
        }
        return (int) r;
    }

    public Credentials lastSender() {
        return lastSender;
    }

    /** When the last datagram reached the socket, in ns since the epoch (CLOCK_REALTIME), or -1. */
    public long lastArrivalNanos() {
        return lastArrival;
    }

    @Override
    public void close() {
        fd.close();
    }
}
