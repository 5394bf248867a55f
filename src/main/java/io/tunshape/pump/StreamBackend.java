package io.tunshape.pump;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A backend reached through a byte stream (a driver's stdin/stdout, a serial line, a TCP
 * connection), with frames delimited by a codec. A reader thread turns the incoming bytes into
 * frames; end of stream marks the backend down until it is opened again.
 */
abstract class StreamBackend implements Backend {
    /** How frames are delimited in the stream. */
    interface Codec {
        byte[] encode(byte[] frame, int off, int len);

        List<byte[]> feed(byte[] data, int off, int len);
    }

    /**
     * A 2-byte big-endian length, then the frame: exec's framing. What waits for the rest of its
     * frame is kept in one buffer of the largest frame a length can say, and each byte is copied
     * once: a 64 KiB frame arriving a byte at a time costs 64 KiB, not the 2 GB that copying what
     * waits on every read did (found by ExecFramingFuzzTest).
     */
    static Codec lengthPrefixed() {
        return new Codec() {
            private final byte[] pending = new byte[2 + 0xFFFF];
            private int have;

            @Override
            public byte[] encode(byte[] frame, int off, int len) {
                byte[] out = new byte[len + 2];
                out[0] = (byte) (len >> 8);
                out[1] = (byte) len;
                System.arraycopy(frame, off, out, 2, len);
                return out;
            }

            @Override
            public List<byte[]> feed(byte[] data, int off, int len) {
                List<byte[]> out = new ArrayList<>();
                int i = off;
                int end = off + len;
                while (i < end) {
                    if (have < 2) {
                        pending[have++] = data[i++];
                        if (have < 2) {
                            continue;
                        }
                    }
                    int n = ((pending[0] & 0xFF) << 8) | (pending[1] & 0xFF);
                    int take = Math.min(n - (have - 2), end - i);
                    System.arraycopy(data, i, pending, have, take);
                    have += take;
                    i += take;
                    if (have - 2 == n) {
                        if (n > 0) {
                            out.add(java.util.Arrays.copyOfRange(pending, 2, 2 + n));
                        }
                        have = 0;
                    }
                }
                return out;
            }
        };
    }

    static Codec framing(Framing f) {
        return new Codec() {
            private final Framing.Decoder d = f.decoder();

            @Override
            public byte[] encode(byte[] frame, int off, int len) {
                return f.encode(frame, off, len);
            }

            @Override
            public List<byte[]> feed(byte[] data, int off, int len) {
                return d.feed(data, off, len);
            }
        };
    }

    private final java.util.function.Supplier<Codec> codecs;
    private final BlockingQueue<byte[]> frames = new ArrayBlockingQueue<>(256);
    private final byte[] tx = new byte[65536];
    private volatile OutputStream out;
    private volatile Codec codec;
    private volatile String downReason;
    private Thread reader;

    StreamBackend(java.util.function.Supplier<Codec> codecs) {
        this.codecs = codecs;
    }

    /** Connects: returns the stream pair (and remembers whatever must be closed). */
    protected abstract Streams connect() throws IOException;

    /** Closes the connection. */
    protected abstract void disconnect();

    record Streams(InputStream in, OutputStream out) {
    }

    @Override
    public synchronized void open() throws IOException {
        close();
        Streams s = connect();
        codec = codecs.get();
        frames.clear();
        downReason = null;
        out = s.out();
        Codec c = codec;
        Thread t = new Thread(() -> readLoop(s.in(), c), "backend-reader");
        t.setDaemon(true);
        t.start();
        reader = t;
    }

    private void readLoop(InputStream in, Codec c) {
        byte[] buf = new byte[8192];
        try {
            int n;
            while ((n = in.read(buf)) >= 0) {
                for (byte[] f : c.feed(buf, 0, n)) {
                    frames.offer(f); // a full queue drops: the device side is not keeping up
                }
            }
            downReason = describe() + " closed its end";
        } catch (IOException e) {
            downReason = e.getMessage() == null ? e.toString() : e.getMessage();
        }
    }

    @Override
    public void send(ByteBuffer frame) throws IOException {
        OutputStream o = out;
        String down = downReason;
        if (o == null || down != null) {
            throw new IOException(down != null ? down : "not open");
        }
        int n = frame.remaining();
        frame.get(tx, 0, n);
        byte[] wire = codec.encode(tx, 0, n);
        o.write(wire);
        o.flush();
    }

    @Override
    public boolean receive(ByteBuffer buf, int timeoutMs) throws IOException {
        byte[] f;
        try {
            f = frames.poll(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        if (f == null) {
            String down = downReason;
            if (down != null && out != null) {
                throw new IOException(down);
            }
            return false;
        }
        buf.clear();
        buf.put(f, 0, Math.min(f.length, buf.capacity())).flip();
        return true;
    }

    @Override
    public synchronized void close() {
        out = null;
        disconnect();
        if (reader != null) {
            reader.interrupt();
            reader = null;
        }
    }
}
