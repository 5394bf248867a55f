package io.tunshape.pump;

import io.tunshape.sys.Errno;
import io.tunshape.sys.Fd;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.Serial;
import io.tunshape.sys.Sys;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;

/**
 * A serial line (a tty, or a pty in tests) in raw mode at {@code --baud}, with SLIP or KISS
 * framing. Writes block at the line's speed, which is the backend's busy time. If the line goes
 * away (a USB adapter unplugged), the pump says so once and reopens it with backoff.
 */
final class SerialBackend extends StreamBackend {
    private final String device;
    private final int baud;
    private volatile Fd fd;
    private volatile boolean closed;

    SerialBackend(String device, int baud, Framing framing) {
        super(() -> framing(framing));
        this.device = device;
        this.baud = baud;
    }

    @Override
    protected Streams connect() throws IOException {
        Fd f;
        try {
            f = Sys.open(device, Sys.O_RDWR | Serial.O_NOCTTY | Sys.O_CLOEXEC);
        } catch (NativeException e) {
            throw new IOException("cannot open " + device + ": " + Errno.text(e.errno()));
        }
        try {
            Serial.raw(f, baud);
        } catch (NativeException e) {
            f.close();
            throw new IOException(device + " is not a serial line: " + Errno.text(e.errno()));
        }
        closed = false;
        fd = f;
        return new Streams(new LineIn(f), new LineOut(f));
    }

    /** What the line receives; ends when the other end hangs up or the backend disconnects. */
    private final class LineIn extends InputStream {
        private final Fd line;
        private final ByteBuffer b = ByteBuffer.allocateDirect(4096);

        LineIn(Fd line) {
            this.line = line;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
        }

        @Override
        public int read(byte[] dst, int off, int len) throws IOException {
            while (!closed) {
                b.clear().limit(Math.min(len, b.capacity()));
                int n;
                try {
                    n = Sys.read(line, b);
                } catch (NativeException e) {
                    throw new IOException(device + ": " + Errno.text(e.errno()));
                }
                if (n > 0) {
                    b.flip().get(dst, off, n);
                    return n;
                }
                // n == 0: the 100 ms read timeout (VTIME), or the other end hung up
                if ((Sys.poll(line, Sys.POLLIN, 0) & Sys.POLLHUP) != 0) {
                    return -1;
                }
            }
            return -1;
        }
    }

    /** What goes out on the line: a write blocks at the line's speed. */
    private final class LineOut extends OutputStream {
        private final Fd line;
        private final ByteBuffer b = ByteBuffer.allocateDirect(65536 * 2 + 8);

        LineOut(Fd line) {
            this.line = line;
        }

        @Override
        public void write(int x) throws IOException {
            write(new byte[] {(byte) x}, 0, 1);
        }

        @Override
        public void write(byte[] src, int off, int len) throws IOException {
            b.clear();
            b.put(src, off, len).flip();
            while (b.hasRemaining()) {
                try {
                    Sys.write(line, b);
                } catch (NativeException e) {
                    throw new IOException(device + ": " + Errno.text(e.errno()));
                }
            }
        }
    }

    @Override
    protected void disconnect() {
        closed = true;
        Fd f = fd;
        fd = null;
        if (f != null) {
            f.close();
        }
    }

    @Override
    public String describe() {
        return "serial " + device + " at " + baud + " baud";
    }
}
