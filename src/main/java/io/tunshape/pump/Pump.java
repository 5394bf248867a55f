package io.tunshape.pump;

import io.tunshape.sys.Errno;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;
import io.tunshape.tun.Coalescer;
import io.tunshape.tun.Segmenter;
import io.tunshape.tun.TunDevice;
import io.tunshape.tun.VnetHeader;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Moves frames between a tun/tap device and a backend, in both directions, and measures what the
 * backend delivers. Device to backend runs on the calling thread: frames are read only while the
 * pump's small queue has room, so a slow backend leaves them in the kernel (where tunshape's qdisc
 * holds them). With capacity emulation each frame is handed over when it has crossed the
 * emulated link. Backend to device runs on a second thread.
 */
public final class Pump {
    /** The device went away under the pump. */
    public static final class DeviceGoneException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public DeviceGoneException(String message) {
            super(message);
        }
    }

    /**
     * Options; {@code model} null = no emulation, {@code reporter} null = no reports, {@code counters}
     * null = the device's counters are not read (no tx_dropped, no ring).
     */
    public record Options(String netns, LinkModel model, long reportIntervalMs, Reporter reporter,
                          Consumer<Interval> stats, Consumer<String> log, Supplier<DeviceCounters> counters, int queue,
                          long epochNanos) {
    }

    private record Frame(ByteBuffer buf, long arrival) {
    }

    private final TunDevice dev;
    private final Backend backend;
    private final Options o;
    private volatile boolean stop;
    private volatile Throwable rxFailure;
    private final ArrayDeque<ByteBuffer> free = new ArrayDeque<>();
    private final ArrayDeque<Frame> queue = new ArrayDeque<>();
    private final Batch batch = new Batch();
    /** Devices with offloads: what a read gives (a virtio_net_hdr and up to 64 KB), cut from there. */
    private final ByteBuffer staging;
    private final long stagingAddr;
    private final Segmenter segmenter = new Segmenter();
    private boolean saidRefused;
    /** Whether the last frame read was a super-frame. */
    private boolean superFrames;
    private long headFinish = -1;
    private long headStart;
    /** How much of the current frame's crossing has been counted already (emulation): time and bytes. */
    private long busyCountedUntil;
    private long creditedBytes;
    /** Bytes that crossed the link in this interval, frames in flight included: capacity's numerator. */
    private long crossedBytes;
    private long lastFinish = Long.MIN_VALUE;
    private boolean backendUp = true;
    private volatile boolean reportedDown;
    private long retryAt;
    private long backoffMs = 100;
    // counters of the current interval
    private long txBytes;
    private long txFrames;
    private long busyNanos;
    private long rxFramesTotal;
    private long rxFramesReported;
    private long txFramesTotal;

    public Pump(TunDevice dev, Backend backend, Options options) {
        this.dev = dev;
        this.backend = backend;
        this.o = options;
        if (dev.vnetHeader() && options.model() != null) {
            // emulation reads frame by frame into its queue, which would hold a 64 KB super-frame
            // that a slow link takes seconds to carry: the kernel's qdisc must hold it instead
            throw new IllegalArgumentException("a device with offloads cannot be used with link emulation");
        }
        staging = dev.vnetHeader() ? ByteBuffer.allocateDirect(VnetHeader.LEN + 65_536) : null;
        stagingAddr = staging != null ? Sys.address(staging) : 0;
        for (int i = 0; i < Math.max(1, options.queue()) + 1; i++) {
            free.add(ByteBuffer.allocateDirect(65536));
        }
    }

    public void stop() {
        stop = true;
    }

    public long txFramesTotal() {
        return txFramesTotal;
    }

    public long rxFramesTotal() {
        return rxFramesTotal;
    }

    /** Runs until {@link #stop()}; throws {@link DeviceGoneException} when the device is deleted. */
    public void run() {
        if (o.counters() != null) {
            // tun's ring is empty when the pump attaches (a device without a reader drops instead
            // of queueing): the counters now are the ring's zero
            try {
                lastCounters = o.counters().get();
                ringFrames = 0;
            } catch (RuntimeException e) {
                lastCounters = null;
            }
        }
        openBackend(System.nanoTime());
        Thread rx = new Thread(this::rxLoop, "pump-rx-" + dev.name());
        rx.setDaemon(true);
        rx.start();
        long intervalNanos = o.reportIntervalMs() * 1_000_000L;
        long intervalStart = System.nanoTime();
        long nextReport = intervalStart + intervalNanos;
        try {
            while (!stop) {
                long now = System.nanoTime();
                if (o.model() == null && backendUp && queue.isEmpty() && now < nextReport) {
                    // no emulation: straight from the device to the backend, frame by frame
                    passThrough(nextReport);
                    if (rxFailure instanceof DeviceGoneException g) {
                        throw g;
                    }
                    continue;
                }
                if (now >= nextReport) {
                    report(now - intervalStart);
                    intervalStart = now;
                    nextReport = now + intervalNanos;
                }
                if (!backendUp && now >= retryAt) {
                    openBackend(now);
                }
                if (o.model() == null && backendUp) {
                    continue; // back to passing through (a device with offloads is read only there)
                }
                if (headFinish >= 0 && now >= headFinish) {
                    deliverHead(now);
                    continue;
                }
                long until = Math.min(nextReport, headFinish >= 0 ? headFinish : Long.MAX_VALUE);
                if (queue.size() < Math.max(1, o.queue()) && backendUp) {
                    // try the (non-blocking) device first; poll only when it has nothing
                    if (readFrame(false)) {
                        continue;
                    }
                    long waitNanos = Math.max(0, until - now);
                    int ms = (int) Math.min(100, waitNanos / 1_000_000);
                    int ev = Sys.poll(dev.fd(), Sys.POLLIN, ms);
                    if ((ev & (Sys.POLLERR | Sys.POLLHUP)) != 0) {
                        throw gone(null);
                    }
                    if ((ev & Sys.POLLIN) == 0 && ms == 0 && waitNanos > 0) {
                        java.util.concurrent.locks.LockSupport.parkNanos(Math.min(waitNanos, 200_000));
                    }
                } else {
                    long wait = Math.min(until - now, 100_000_000L);
                    if (!backendUp) {
                        wait = Math.min(wait, Math.max(0, retryAt - now));
                    }
                    if (wait > 0) {
                        java.util.concurrent.locks.LockSupport.parkNanos(wait);
                    }
                }
                if (rxFailure instanceof DeviceGoneException g) {
                    throw g;
                }
            }
        } finally {
            stop = true;
            backend.close(); // wakes a receive blocked in the backend
            try {
                rx.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * The fast path without emulation: read what the device's ring holds (up to a batch), hand it
     * over in one go, until the ring is empty (then wait on poll), the report is due, or the
     * backend fails. No queue, no bookkeeping per frame.
     */
    private void passThrough(long until) {
        Batch batch = this.batch;
        while (!stop) {
            batch.clear();
            if (dev.vnetHeader()) {
                readSegments(batch);
            } else {
                while (batch.hasRoom()) {
                    int n;
                    try {
                        n = Sys.read(dev.fd(), batch.nextAddress(), Batch.MAX_FRAME);
                    } catch (NativeException e) {
                        throw gone(e);
                    }
                    if (n < 0) {
                        break; // the ring is empty
                    }
                    batch.add(n);
                }
            }
            if (batch.count() == 0) {
                long now = System.nanoTime();
                if (now >= until) {
                    return;
                }
                int ev = Sys.poll(dev.fd(), Sys.POLLIN, (int) Math.max(1, Math.min(100, (until - now) / 1_000_000)));
                if ((ev & (Sys.POLLERR | Sys.POLLHUP)) != 0) {
                    throw gone(null);
                }
                if (rxFailure != null) {
                    return;
                }
                continue;
            }
            long t0 = System.nanoTime();
            int bytes = batch.bytes();
            try {
                backend.send(batch);
                txBytes += bytes;
                txFrames += batch.count();
                txFramesTotal += batch.count();
                backendWorked();
            } catch (IOException e) {
                backendDown(e, t0);
                return;
            }
            long t1 = System.nanoTime();
            busyNanos += t1 - t0;
            crossedBytes += bytes;
            if (t1 >= until) {
                return;
            }
        }
    }

    /**
     * A device with offloads: each read gives a virtio_net_hdr and a packet, maybe a TCP
     * super-frame; the batch gets plain IP packets, as on the wire. A super-frame's segments that do
     * not fit wait in the segmenter for the next batch.
     */
    private void readSegments(Batch batch) {
        Segmenter seg = segmenter;
        while (batch.hasRoom()) {
            if (seg.hasNext()) {
                batch.add(seg.next(batch.buffer(), batch.used()));
                continue;
            }
            // straight into the batch, where a whole packet stays (no copy); a super-frame is cut
            // from staging, since its segments go where it lies: after one, the next read goes
            // there first (a TCP stream's frames come as super-frames one after the other)
            boolean direct = !superFrames && batch.room() >= staging.capacity();
            int at = batch.used();
            int n;
            try {
                n = Sys.read(dev.fd(), direct ? batch.nextAddress() : stagingAddr, staging.capacity());
            } catch (NativeException e) {
                throw gone(e);
            }
            if (n < 0) {
                return; // the ring is empty
            }
            boolean ok = seg.load(direct ? batch.buffer() : staging, direct ? at : 0, n);
            superFrames = ok && !seg.single();
            if (ok && direct) {
                if (seg.single()) {
                    batch.addAt(seg.packet(), seg.maxSegment());
                    batch.advance(n);
                    seg.skip();
                    continue;
                }
                staging.put(0, batch.buffer(), at, n);
                ok = seg.load(staging, 0, n);
            }
            if (!ok && !saidRefused) {
                o.log().accept(dev.name() + " handed over a frame the pump cannot cut (" + seg.refusal()
                        + "): dropped; further ones are dropped silently");
                saidRefused = true;
            }
        }
    }

    private DeviceGoneException gone(NativeException e) {
        return new DeviceGoneException("device " + dev.name() + " went away (deleted?)"
                + (e != null ? ": " + Errno.text(e.errno()) : ""));
    }

    /**
     * Reads one frame. {@code waiting} means it was already in tun's ring when the link got free (read
     * without blocking right after a delivery): for the emulated link it was queued since then.
     */
    private boolean readFrame(boolean waiting) {
        ByteBuffer b = free.poll();
        b.clear();
        try {
            Sys.read(dev.fd(), b);
        } catch (NativeException e) {
            free.add(b);
            if (e.errno() == Errno.EAGAIN || e.errno() == Errno.EINTR) {
                return false;
            }
            throw gone(e);
        }
        b.flip();
        long now = System.nanoTime();
        queue.add(new Frame(b, waiting && lastFinish != Long.MIN_VALUE ? Math.min(now, lastFinish) : now));
        if (queue.size() == 1 && headFinish < 0 && !waiting) {
            startHead(now);
        }
        return true;
    }

    /** The head of the queue starts crossing the link: when it arrived, or when the link got free. */
    private void startHead(long now) {
        Frame f = queue.peek();
        if (o.model() == null) {
            headFinish = now;
            return;
        }
        headStart = Math.max(f.arrival(), lastFinish);
        busyCountedUntil = headStart;
        creditedBytes = 0;
        headFinish = o.model().finish(f.buf().remaining(), headStart);
    }

    private void deliverHead(long now) {
        Frame f = queue.poll();
        int len = f.buf().remaining();
        long t0 = System.nanoTime();
        try {
            backend.send(f.buf());
            txBytes += len;
            txFrames++;
            txFramesTotal++;
            backendWorked();
        } catch (IOException e) {
            backendDown(e, now);
        }
        // busy: the time the link spent on this frame, in the intervals it spanned
        if (o.model() == null) {
            busyNanos += System.nanoTime() - t0;
            crossedBytes += len;
        } else {
            busyNanos += Math.max(0, headFinish - busyCountedUntil);
            crossedBytes += Math.max(0, len - creditedBytes);
        }
        lastFinish = headFinish;
        free.add(f.buf());
        headFinish = -1;
        // frames already waiting in tun's ring were queued for the link all along: take them now
        while (queue.size() < Math.max(1, o.queue()) && readFrame(true)) {
            // read ahead until the queue is full or the ring is empty
        }
        if (!queue.isEmpty() && headFinish < 0) {
            startHead(now);
        }
    }

    private void openBackend(long now) {
        try {
            backend.open();
            backendUp = true;
        } catch (IOException e) {
            backendDown(e, now);
        }
    }

    /** Says "down" once per outage; retries are silent, with backoff up to 5 s. */
    private synchronized void backendDown(IOException e, long now) {
        if (!reportedDown) {
            o.log().accept("backend " + backend.describe() + " is down: " + e.getMessage() + "; retrying with backoff "
                    + "(the device stays)");
            reportedDown = true;
        }
        backendUp = false;
        retryAt = now + backoffMs * 1_000_000L;
        backoffMs = Math.min(backoffMs * 2, 5000);
    }

    /** After a send went through, or a frame came: says "up again" once the backend confirms it. */
    private void backendWorked() {
        if (reportedDown) {
            confirmUp();
        }
    }

    private synchronized void confirmUp() {
        if (reportedDown && backend.confirmed()) {
            o.log().accept("backend " + backend.describe() + " is up again");
            reportedDown = false;
            backoffMs = 100;
        }
    }

    private void rxLoop() {
        Batch in = new Batch();
        // the device's side of what came in: iovecs (address, length) and a super-frame's headers
        ByteBuffer iov = ByteBuffer.allocateDirect(16 * (Batch.MAX_FRAMES + 1)).order(ByteOrder.nativeOrder());
        ByteBuffer head = ByteBuffer.allocateDirect(VnetHeader.LEN + 120);
        Delivery d = new Delivery(in, iov, head);
        boolean said = false;
        while (!stop) {
            try {
                in.clear();
                if (backend.receive(in, 100) == 0) {
                    continue;
                }
                said = false;
                backendWorked(); // a frame from the backend: it is there
                if (!d.deliver()) {
                    return;
                }
            } catch (IOException e) {
                if (!said && !stop) {
                    o.log().accept("backend " + backend.describe() + ": " + e.getMessage() + " (receiving; retrying)");
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

    /** Writes what the backend delivered to the device: frame by frame, or through the coalescer. */
    private final class Delivery {
        private final Batch in;
        private final ByteBuffer iov;
        private final long iovAddr;
        private final ByteBuffer head;
        private final long headAddr;
        private static final int DONE = 0;
        private static final int REFUSED = 1;
        private static final int GONE = 2;
        private boolean saidDown;
        /** Whether runs of UDP datagrams go to the device as one frame (until the kernel refuses one). */
        private boolean udpRuns = true;

        Delivery(Batch in, ByteBuffer iov, ByteBuffer head) {
            this.in = in;
            this.iov = iov;
            this.iovAddr = Sys.address(iov);
            this.head = head;
            this.headAddr = Sys.address(head);
            VnetHeader.write(head, head.capacity() - VnetHeader.LEN, VnetHeader.GSO_NONE, 0, 0, 0);
        }

        /** False when the device is gone (rxFailure says why). */
        boolean deliver() {
            int n = in.count();
            if (!dev.vnetHeader()) {
                for (int i = 0; i < n; i++) {
                    if (write(in.address(i), in.length(i), -1, 1) == GONE) {
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
                if (run == 1) {
                    // a whole packet, checksums in place: an all-zero header (at head's end) before it
                    iov.putLong(0, headAddr + head.capacity() - VnetHeader.LEN).putLong(8, VnetHeader.LEN);
                    iov.putLong(16, in.address(i)).putLong(24, lens[i]);
                } else {
                    int h = Coalescer.superHeader(b, offs, lens, i, run, head, 0);
                    int hdrs = h - VnetHeader.LEN;
                    iov.putLong(0, headAddr).putLong(8, h);
                    for (int k = 0; k < run; k++) {
                        iov.putLong(16 * (k + 1), in.address(i + k) + hdrs).putLong(16 * (k + 1) + 8, lens[i + k] - hdrs);
                    }
                }
                int r = write(0, 0, run == 1 ? 2 : run + 1, run);
                if (r == REFUSED && run > 1 && udpRuns && Coalescer.protocol(b, offs[i]) == Coalescer.UDP) {
                    // a kernel before 6.2 does not take UDP runs (EINVAL): frame by frame from now on
                    udpRuns = false;
                    o.log().accept(dev.name() + ": the kernel refuses runs of UDP datagrams as one frame (UDP_L4); "
                            + "they are written one by one");
                    continue;
                }
                if (r == GONE) {
                    return false;
                }
                i += run;
            }
            return true;
        }

        /**
         * One write (addr, len) or one writev of {@code iovs} entries carrying {@code frames} frames:
         * {@link #DONE} (written, or dropped as tun drops), {@link #REFUSED} (EINVAL: not a frame the
         * device takes; dropped) or {@link #GONE}.
         */
        private int write(long addr, int len, int iovs, int frames) {
            try {
                int r = iovs < 0 ? Sys.write(dev.fd(), addr, len) : Sys.writev(dev.fd(), iovAddr, iovs);
                if (r < 0) {
                    return DONE; // EAGAIN: tun's socket buffer is full, the frames are dropped
                }
                rxFramesTotal += frames;
                saidDown = false;
            } catch (NativeException e) {
                if (e.errno() == Errno.EINVAL) {
                    return REFUSED; // not a packet the device accepts (e.g. not IP on tun): dropped
                }
                if (e.errno() == Errno.EIO) {
                    // the device is down: tun refuses writes until it is up again
                    if (!saidDown) {
                        o.log().accept(dev.name() + " is down: frames from the backend are dropped until it is up");
                        saidDown = true;
                    }
                    return DONE;
                }
                rxFailure = gone(e);
                return GONE;
            }
            return DONE;
        }
    }

    /** The counters at the last interval's end, and the frames then in tun's ring (unclamped). */
    private DeviceCounters lastCounters;
    private long ringFrames;

    /**
     * Frames waiting in tun's ring: what the qdisc handed to tun less what the pump read and what
     * the full ring dropped, followed from interval to interval from 0 when the pump attached (tun's
     * ring is empty then). A qdisc that appeared or was replaced since the last interval (the device
     * came up, its counter went back, its handle changed) counts from 0. Reported as at least 0, or
     * -1 when the device has no qdisc to count with.
     */
    private long ring(DeviceCounters c) {
        DeviceCounters p = lastCounters;
        lastCounters = c;
        if (p == null) {
            ringFrames = 0;
            return c.qdiscPackets() < 0 ? -1 : 0;
        }
        long out = (c.txPackets() - p.txPackets()) + (c.txDropped() - p.txDropped());
        if (c.qdiscPackets() < 0) {
            ringFrames -= out;
            return -1;
        }
        boolean fresh = p.qdiscPackets() < 0 || p.qdiscHandle() != c.qdiscHandle() || c.qdiscPackets() < p.qdiscPackets();
        long in = c.qdiscPackets() - (fresh ? 0 : p.qdiscPackets());
        // the sum is kept as it comes: the two counters are read a moment apart, so an interval may
        // be a few frames over and the next as many under; cutting the unders at 0 would make that
        // noise add up
        ringFrames += in - out;
        return Math.max(0, ringFrames);
    }

    private void report(long elapsedNanos) {
        if (o.model() != null && headFinish >= 0 && !queue.isEmpty()) {
            // a frame still crossing (a slow link, or an outage) counts with what has crossed so far:
            // the estimate stays exact on slow links and drops to 0 when nothing gets through
            long until = Math.min(System.nanoTime(), headFinish);
            if (until > busyCountedUntil) {
                busyNanos += until - busyCountedUntil;
                busyCountedUntil = until;
            }
            long p = o.model().progress(queue.peek().buf().remaining(), headStart, headFinish, until);
            crossedBytes += Math.max(0, p - creditedBytes);
            creditedBytes = Math.max(creditedBytes, p);
        }
        long capacity = busyNanos >= Interval.MIN_BUSY_NANOS ? Math.round(crossedBytes * 8e9 / busyNanos) : -1;
        long dropped = -1;
        long ring = -1;
        long qdisc = -1;
        if (o.counters() != null) {
            try {
                DeviceCounters c = o.counters().get();
                dropped = c.txDropped();
                ring = ring(c);
                qdisc = c.qdiscQlen();
            } catch (RuntimeException e) {
                dropped = -1;
            }
        }
        long rx = rxFramesTotal - rxFramesReported;
        rxFramesReported = rxFramesTotal;
        Interval iv = new Interval(dev.name(), o.netns(), Math.round(elapsedNanos / 1e6), txBytes, txFrames,
                busyNanos, capacity, queue.size(), ring, qdisc, dropped, rx,
                (System.nanoTime() - o.epochNanos()) / 1_000_000);
        txBytes = 0;
        txFrames = 0;
        busyNanos = 0;
        crossedBytes = 0;
        if (o.stats() != null) {
            o.stats().accept(iv);
        }
        if (o.reporter() != null) {
            o.reporter().send(iv.toJson(), o.log());
        }
    }
}
