package io.tunshape.pump;

import io.tunshape.sys.Errno;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.UnixDatagram;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Sends reports to the daemon's Unix datagram socket: one JSON object per datagram. A missing
 * daemon (no socket, nobody bound) is not an error; it is said once.
 */
public final class Reporter implements AutoCloseable {
    public static final int MAX_REPORT = 4096;

    private final String path;
    private final UnixDatagram socket = new UnixDatagram();
    private final ByteBuffer addr;
    private final ByteBuffer out = ByteBuffer.allocateDirect(MAX_REPORT);
    private boolean saidMissing;

    public Reporter(String path) {
        this.path = path;
        try {
            addr = UnixDatagram.address(path);
        } catch (IllegalArgumentException e) {
            socket.close();
            throw new IllegalArgumentException("report " + e.getMessage());
        }
    }

    /** Sends one report; returns false (and says so once, through {@code log}) when nobody listens. */
    public boolean send(String json, java.util.function.Consumer<String> log) {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        if (b.length > MAX_REPORT) {
            throw new IllegalArgumentException("report of " + b.length + " bytes exceeds " + MAX_REPORT);
        }
        out.clear();
        out.put(b).flip();
        try {
            socket.send(out, addr);
            saidMissing = false;
            return true;
        } catch (NativeException e) {
            if (!saidMissing) {
                String why = e.errno() == Errno.ENOENT || e.errno() == 111 ? "no daemon is listening"
                        : e.errno() == Errno.EAGAIN ? "the daemon is not keeping up"
                        : e.errno() == Errno.EACCES || e.errno() == Errno.EPERM ? "not permitted to report"
                        : Errno.describe(e.errno());
                log.accept("reports to " + path + " are not delivered: " + why + " (the pump goes on)");
                saidMissing = true;
            }
            return false;
        }
    }

    @Override
    public void close() {
        socket.close();
    }
}
