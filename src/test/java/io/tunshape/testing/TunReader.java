package io.tunshape.testing;

import io.tunshape.sys.Sys;
import io.tunshape.tun.TunDevice;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * A test driver standing in for a backend: reads IP packets from a tun device, optionally no
 * faster than {@code bytesPerSecond} (each packet costing its length plus {@code overhead}), and
 * records what arrived and when. Packets sent by {@link #payload} carry a sequence number and their
 * send time, so the wait in the queue can be measured.
 */
public final class TunReader implements AutoCloseable {
    /** One packet as read: when, how long (IP length), its DSCP, and the sender's stamp (-1 if none). */
    public record Arrival(long nanos, int length, int dscp, long seq, long sentNanos) {
    }

    private final TunDevice dev;
    private final long bytesPerSecond;
    private final int overhead;
    private final List<Arrival> arrivals = new ArrayList<>();
    private final Thread thread;
    private volatile boolean stop;

    public TunReader(TunDevice dev, long bytesPerSecond, int overhead) {
        this.dev = dev;
        this.bytesPerSecond = bytesPerSecond;
        this.overhead = overhead;
        this.thread = new Thread(this::run, "tun-reader");
        thread.setDaemon(true);
        thread.start();
    }

    /** A UDP payload of {@code size} bytes stamped with a sequence number and the send time. */
    public static byte[] payload(int size, long seq) {
        ByteBuffer b = ByteBuffer.allocate(Math.max(size, 16)).order(ByteOrder.BIG_ENDIAN);
        b.putLong(0, seq).putLong(8, System.nanoTime());
        return b.array();
    }

    private void run() {
        ByteBuffer buf = ByteBuffer.allocateDirect(65536);
        long nextFree = System.nanoTime();
        while (!stop) {
            if (bytesPerSecond > 0) {
                long wait = nextFree - System.nanoTime();
                if (wait > 0) {
                    LockSupport.parkNanos(wait);
                }
            }
            if ((Sys.poll(dev.fd(), Sys.POLLIN, 50) & Sys.POLLIN) == 0) {
                continue;
            }
            buf.clear();
            int n = Sys.read(dev.fd(), buf);
            long now = System.nanoTime();
            if (bytesPerSecond > 0) {
                nextFree = Math.max(nextFree, now - 1_000_000) + (n + overhead) * 1_000_000_000L / bytesPerSecond;
            }
            int dscp = -1;
            long seq = -1;
            long sent = -1;
            if (n >= 20 && (buf.get(0) >> 4) == 4) {
                dscp = (buf.get(1) & 0xFF) >> 2;
                int ihl = (buf.get(0) & 0x0F) * 4;
                if (buf.get(9) == 17 && n >= ihl + 8 + 16) {
                    seq = buf.order(ByteOrder.BIG_ENDIAN).getLong(ihl + 8);
                    sent = buf.getLong(ihl + 16);
                }
            }
            synchronized (arrivals) {
                arrivals.add(new Arrival(now, n, dscp, seq, sent));
            }
        }
    }

    public List<Arrival> arrivals() {
        synchronized (arrivals) {
            return new ArrayList<>(arrivals);
        }
    }

    @Override
    public void close() {
        stop = true;
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
