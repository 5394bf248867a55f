package io.tunshape.pump;

import io.tunshape.sys.Fd;
import io.tunshape.sys.NativeException;
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
            f = Sys.open(device, Sys.O_RDWR | Sys.O_NOCTTY | Sys.O_CLOEXEC);
        } catch (NativeException e) {
            throw new IOException("cannot open " + device + ": " + io.tunshape.sys.Errno.text(e.errno()));
        }
        try {
            Sys.rawSerial(f, baud);
        } catch (NativeException e) {
            f.close();
            throw new IOException(device + " is not a serial line: " + io.tunshape.sys.Errno.text(e.errno()));
        }
        closed = false;
        fd = f;
        Fd mine = f;
        InputStream in = new InputStream() {
            private final ByteBuffer b = ByteBuffer.allocateDirect(4096);

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
                        n = Sys.read(mine, b);
                    } catch (NativeException e) {
                        throw new IOException(device + ": " + io.tunshape.sys.Errno.text(e.errno()));
                    }
                    if (n > 0) {
                        b.flip().get(dst, off, n);
                        return n;
                    }
                    // n == 0: the 100 ms read timeout (VTIME), or the other end hung up
                    if ((Sys.poll(mine, Sys.POLLIN, 0) & Sys.POLLHUP) != 0) {
                        return -1;
                    }
                }
                return -1;
            }
        };
        OutputStream out = new OutputStream() {
            private final ByteBuffer b = ByteBuffer.allocateDirect(65536 * 2 + 8);

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
                        Sys.write(mine, b);
                    } catch (NativeException e) {
                        throw new IOException(device + ": " + io.tunshape.sys.Errno.text(e.errno()));
                    }
                }
            }
        };
        return new Streams(in, out);
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
