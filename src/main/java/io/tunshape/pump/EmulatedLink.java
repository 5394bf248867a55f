package io.tunshape.pump;

import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;
import io.tunshape.tun.TunDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.locks.LockSupport;

/**
 * Device to backend through an emulated link ({@link LinkModel}): frames are read from the device
 * only while the pump's small queue has room, so a slow link leaves them in the kernel, where
 * tunshape's qdisc holds them; the head of the queue is handed to the backend when it has crossed
 * the link. Frames already waiting in tun's ring when the link frees count as queued since then.
 * The pump's thread only.
 */
final class EmulatedLink {
    /** A buffer for one frame, with its native address. */
    private record Slot(ByteBuffer buf, long addr) {
    }

    private record Frame(Slot slot, int len, long arrival) {
    }

    private final TunDevice dev;
    private final Backend backend;
    private final BackendHealth health;
    private final Meter meter;
    private final LinkModel model;
    private final int capacity;
    private final ArrayDeque<Slot> free = new ArrayDeque<>();
    private final ArrayDeque<Frame> queue = new ArrayDeque<>();
    /** When the head finishes crossing (-1: nothing crossing), and when it started. */
    private long headFinish = -1;
    private long headStart;
    /** How much of the head's crossing has been counted already (by a report): time and bytes. */
    private long busyCountedUntil;
    private long creditedBytes;
    private long lastFinish = Long.MIN_VALUE;

    EmulatedLink(TunDevice dev, Backend backend, BackendHealth health, Meter meter, LinkModel model, int queue) {
        this.dev = dev;
        this.backend = backend;
        this.health = health;
        this.meter = meter;
        this.model = model;
        this.capacity = Math.max(1, queue);
        for (int i = 0; i < capacity + 1; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(Batch.MAX_FRAME);
            free.add(new Slot(b, Sys.address(b)));
        }
    }

    /** Frames in the pump's queue. */
    int backlog() {
        return queue.size();
    }

    /** One step until {@code until} at the latest: deliver the head, read a frame, or wait. */
    void step(long now, long until) {
        if (headFinish >= 0 && now >= headFinish) {
            deliverHead(now);
            return;
        }
        long end = Math.min(until, headFinish >= 0 ? headFinish : Long.MAX_VALUE);
        if (queue.size() < capacity && health.up()) {
            // try the (non-blocking) device first; poll only when it has nothing
            if (readFrame(false)) {
                return;
            }
            long waitNanos = Math.max(0, end - now);
            int ms = (int) Math.min(100, waitNanos / 1_000_000);
            int ev = dev.await(ms);
            if (ev == TunDevice.HANGUP) {
                throw Pump.gone(dev, null);
            }
            if (ev != TunDevice.READABLE && ms == 0 && waitNanos > 0) {
                LockSupport.parkNanos(Math.min(waitNanos, 200_000));
            }
        } else {
            long wait = Math.min(end - now, 100_000_000L);
            if (!health.up()) {
                wait = Math.min(wait, Math.max(0, health.retryAt() - now));
            }
            if (wait > 0) {
                LockSupport.parkNanos(wait);
            }
        }
    }

    /**
     * Reads one frame. {@code waiting} means it was already in tun's ring when the link got free (read
     * without blocking right after a delivery): for the emulated link it was queued since then.
     */
    private boolean readFrame(boolean waiting) {
        Slot s = free.poll();
        int n;
        try {
            n = dev.read(s.addr(), s.buf().capacity());
        } catch (NativeException e) {
            free.add(s);
            throw Pump.gone(dev, e);
        }
        if (n < 0) {
            free.add(s);
            return false;
        }
        long now = System.nanoTime();
        queue.add(new Frame(s, n, waiting && lastFinish != Long.MIN_VALUE ? Math.min(now, lastFinish) : now));
        if (queue.size() == 1 && headFinish < 0 && !waiting) {
            startHead();
        }
        return true;
    }

    /** The head of the queue starts crossing the link: when it arrived, or when the link got free. */
    private void startHead() {
        Frame f = queue.peek();
        headStart = Math.max(f.arrival(), lastFinish);
        busyCountedUntil = headStart;
        creditedBytes = 0;
        headFinish = model.finish(f.len(), headStart);
    }

    private void deliverHead(long now) {
        Frame f = queue.poll();
        ByteBuffer b = f.slot().buf();
        b.clear().limit(f.len());
        try {
            backend.send(b);
            meter.handedOver(f.len(), 1);
            health.worked();
        } catch (IOException e) {
            health.down(e, now);
        }
        // busy: the time the link spent on this frame, in the intervals it spanned
        meter.busy(Math.max(0, headFinish - busyCountedUntil), Math.max(0, f.len() - creditedBytes));
        lastFinish = headFinish;
        free.add(f.slot());
        headFinish = -1;
        // frames already waiting in tun's ring were queued for the link all along: take them now
        while (queue.size() < capacity && readFrame(true)) {
            // read ahead until the queue is full or the ring is empty
        }
        if (!queue.isEmpty() && headFinish < 0) {
            startHead();
        }
    }

    /**
     * Before a report: a frame still crossing (a slow link, or an outage) counts with what has
     * crossed so far, so the estimate stays exact on slow links and drops to 0 when nothing gets
     * through.
     */
    void creditInFlight() {
        if (headFinish < 0 || queue.isEmpty()) {
            return;
        }
        long until = Math.min(System.nanoTime(), headFinish);
        long nanos = 0;
        if (until > busyCountedUntil) {
            nanos = until - busyCountedUntil;
            busyCountedUntil = until;
        }
        long p = model.progress(queue.peek().len(), headStart, headFinish, until);
        meter.busy(nanos, Math.max(0, p - creditedBytes));
        creditedBytes = Math.max(creditedBytes, p);
    }
}
