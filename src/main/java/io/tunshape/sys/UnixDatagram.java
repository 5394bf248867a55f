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
    private static final int SO_TIMESTAMPNS = 35;
    private final RecvMsg.Buffers msg = new RecvMsg.Buffers(128);
    private Credentials lastSender;
    private long lastArrival = -1;

    /** Asks the kernel to attach each sender's pid, uid and gid to what it delivers. */
    public void passCredentials() {
        Sys.setsockopt(fd, Sys.SOL_SOCKET, SO_PASSCRED, 1);
    }

    private static final int SO_RCVTIMEO = 20;

    /**
     * A receive waits at most {@code millis} (SO_RCVTIMEO), then throws {@link NativeException} with
     * EAGAIN: so a thread can block in recvmsg itself, with no poll before it, and still look up now and then.
     */
    public void receiveTimeout(int millis) {
        ByteBuffer tv = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder());
        tv.putLong(0, millis / 1000).putLong(8, (millis % 1000) * 1000L);
        Sys.setsockopt(fd, Sys.SOL_SOCKET, SO_RCVTIMEO, tv);
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
        lastSender = null;
        lastArrival = -1;
        return (int) RecvMsg.receive(fd, buf, Sys.MSG_TRUNC, msg, controlMessage);
    }

    /** Made once: a receive allocates nothing but the sender's credentials. */
    private final RecvMsg.Visitor controlMessage = (level, type, c, at, len) -> {
        if (level == Sys.SOL_SOCKET && type == SCM_CREDENTIALS && len >= 12) {
            lastSender = new Credentials(c.getInt(at), c.getInt(at + 4), c.getInt(at + 8));
        } else if (level == Sys.SOL_SOCKET && type == SO_TIMESTAMPNS && len >= 16) {
            lastArrival = c.getLong(at) * 1_000_000_000L + c.getLong(at + 8);
        }
    };

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
