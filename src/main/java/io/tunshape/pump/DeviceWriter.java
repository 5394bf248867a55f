package io.tunshape.pump;

import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;
import io.tunshape.tun.Coalescer;
import io.tunshape.tun.TunDevice;
import io.tunshape.tun.VnetHeader;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.Consumer;

/**
 * Backend to device, on a thread of its own: receives what the backend delivers and writes it to
 * the device frame by frame, or, on a device with offloads, runs of one flow merged into one
 * super-frame ({@link Coalescer}) written with one writev and no copy. Ends when stopped, or when
 * the device is gone ({@link #failure}).
 */
final class DeviceWriter implements Runnable {
    /**
     * Frames written, read by the pump's thread at each report. One writer (this thread), so an
     * opaque read-add-write needs no atomic add; opaque makes the 64-bit value atomic and coherent, and the
     * reader sees each write soon (a report a second), which is all a statistic needs; nothing else
     * is published through it, so no release/acquire ordering. On x86 and ARM an opaque write is a
     * plain store (no fence), unlike a volatile one (a locked instruction on x86), and no
     * LongAdder cells are needed for a single writer.
     */
    private static final VarHandle FRAMES;

    static {
        try {
            FRAMES = MethodHandles.lookup().findVarHandle(DeviceWriter.class, "frames", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final TunDevice dev;
    private final Backend backend;
    private final BackendHealth health;
    private final Consumer<String> log;
    private final Batch in = new Batch();
    /** The device's side of what came in: iovecs (address, length) and a super-frame's headers. */
    private final ByteBuffer iov = ByteBuffer.allocateDirect(16 * (Batch.MAX_FRAMES + 1)).order(ByteOrder.nativeOrder());
    private final long iovAddr = Sys.address(iov);
    private final ByteBuffer head = ByteBuffer.allocateDirect(VnetHeader.LEN + 120);
    private final long headAddr = Sys.address(head);
    @SuppressWarnings("unused") // through FRAMES
    private long frames;
    private volatile boolean stop;
    private volatile Pump.DeviceGoneException failure;
    private boolean saidDown;
    /** Whether runs of UDP datagrams go to the device as one frame (where offered, until the kernel refuses one). */
    private boolean udpRuns;

    DeviceWriter(TunDevice dev, Backend backend, BackendHealth health, Consumer<String> log) {
        this.dev = dev;
        this.backend = backend;
        this.health = health;
        this.log = log;
        VnetHeader.write(head, head.capacity() - VnetHeader.LEN, VnetHeader.GSO_NONE, 0, 0, 0);
        udpRuns = dev.udpRuns();
        if (dev.vnetHeader() && !udpRuns) {
            // before 6.2 (TUNSETOFFLOAD without TUN_F_USO4/6, virtio_net_hdr without GSO_UDP_L4): said once, here
            log.accept(dev.name() + ": the kernel does not take runs of UDP datagrams as one frame (UDP_L4, Linux 6.2+); "
                    + "they are written one by one");
        }
    }

    /** Frames written to the device so far (any thread). */
    long frames() {
        return (long) FRAMES.getOpaque(this);
    }

    /** Why the device writer ended, when the device went away; else null (any thread). */
    Pump.DeviceGoneException failure() {
        return failure;
    }

    void stop() {
        stop = true;
    }

    @Override
    public void run() {
        boolean said = false;
        while (!stop) {
            try {
                in.clear();
                if (backend.receive(in, 100) == 0) {
                    continue;
                }
                said = false;
                health.worked(); // a frame from the backend: it is there
                if (!deliver()) {
                    return;
                }
            } catch (IOException e) {
                if (!said && !stop) {
                    log.accept("backend " + backend.describe() + ": " + e.getMessage() + " (receiving; retrying)");
                    said = true;
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    /** Writes the batch received; false when the device is gone. */
    private boolean deliver() {
        int n = in.count();
        if (!dev.vnetHeader()) {
            for (int i = 0; i < n; i++) {
                if (!written(write(in.address(i), in.length(i), -1), 1)) {
                    return false;
                }
            }
            return true;
        }
        ByteBuffer b = in.buffer();
        int[] offs = in.offsets();
        int[] lens = in.lengths();
        for (int i = 0; i < n; ) {
            int run = Coalescer.run(b, offs, lens, i, n, udpRuns);
            int r = write(0, 0, gather(i, run));
            if (r == TunDevice.REFUSED && run > 1 && udpRuns && Coalescer.protocol(b, offs[i]) == Coalescer.UDP) {
                // offered, yet refused (EINVAL): frame by frame from now on
                udpRuns = false;
                log.accept(dev.name() + ": the kernel refuses runs of UDP datagrams as one frame (UDP_L4); "
                        + "they are written one by one");
                continue;
            }
            if (!written(r, run)) {
                return false;
            }
            i += run;
        }
        return true;
    }

    /**
     * Puts frames {@code i} to {@code i + run} in the iovecs as one frame for the device: a whole
     * packet behind an all-zero virtio_net_hdr (at head's end), or a run behind its super-frame's
     * headers, each frame's own headers left out. Returns the iovecs used.
     */
    private int gather(int i, int run) {
        int[] lens = in.lengths();
        if (run == 1) {
            iov.putLong(0, headAddr + head.capacity() - VnetHeader.LEN).putLong(8, VnetHeader.LEN);
            iov.putLong(16, in.address(i)).putLong(24, lens[i]);
            return 2;
        }
        int h = Coalescer.superHeader(in.buffer(), in.offsets(), lens, i, run, head, 0);
        int hdrs = h - VnetHeader.LEN;
        iov.putLong(0, headAddr).putLong(8, h);
        for (int k = 0; k < run; k++) {
            iov.putLong(16 * (k + 1), in.address(i + k) + hdrs).putLong(16 * (k + 1) + 8, lens[i + k] - hdrs);
        }
        return run + 1;
    }

    /** One write (addr, len), or one writev of {@code iovs} iovecs when {@code iovs} is not negative. */
    private int write(long addr, int len, int iovs) {
        try {
            return iovs < 0 ? dev.write(addr, len) : dev.writev(iovAddr, iovs);
        } catch (NativeException e) {
            failure = Pump.gone(dev, e);
            return -1;
        }
    }

    /**
     * Counts a write's {@code count} frames when they went through; false when the device is gone.
     * Frames tun drops (its buffer full, not a frame it takes) are dropped here too, as on a card.
     */
    private boolean written(int r, int count) {
        switch (r) {
            case TunDevice.WRITTEN -> {
                FRAMES.setOpaque(this, (long) FRAMES.getOpaque(this) + count);
                saidDown = false;
            }
            case TunDevice.DOWN -> {
                if (!saidDown) {
                    log.accept(dev.name() + " is down: frames from the backend are dropped until it is up");
                    saidDown = true;
                }
            }
            case -1 -> {
                return false;
            }
            default -> {
                // FULL or REFUSED: dropped
            }
        }
        return true;
    }
}
