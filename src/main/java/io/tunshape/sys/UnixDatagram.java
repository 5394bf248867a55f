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

    /** Receives one datagram into buf (from 0); returns its true length (larger than buf when truncated). */
    public int receive(ByteBuffer buf) {
        return (int) Sys.recv(fd, buf, Sys.MSG_TRUNC);
    }

    @Override
    public void close() {
        fd.close();
    }
}
