package io.tunshape.pump;

import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;
import io.tunshape.tun.Segmenter;
import io.tunshape.tun.TunDevice;
import io.tunshape.tun.VnetHeader;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Device to backend without emulation, the fast path: read what tun's ring holds (up to a batch),
 * hand it over in one go, until the ring is empty (then wait in poll), the report is due, or the
 * backend fails. No queue, no bookkeeping per frame. A device with offloads gives a virtio_net_hdr
 * and a packet a read, maybe a TCP super-frame: the batch gets plain IP packets, as on the wire.
 */
final class PassThrough {
    private final TunDevice dev;
    private final Backend backend;
    private final BackendHealth health;
    private final Meter meter;
    private final Consumer<String> log;
    /** True once the pump stops or the device writer found the device gone. */
    private final BooleanSupplier done;
    private final Batch batch = new Batch();
    /** Devices with offloads: what a read gives (a virtio_net_hdr and up to 64 KB), cut from there. */
    private final ByteBuffer staging;
    private final long stagingAddr;
    private final Segmenter segmenter = new Segmenter();
    /** Whether the last frame read was a super-frame. */
    private boolean superFrames;
    private boolean saidRefused;

    PassThrough(TunDevice dev, Backend backend, BackendHealth health, Meter meter, Consumer<String> log,
                BooleanSupplier done) {
        this.dev = dev;
        this.backend = backend;
        this.health = health;
        this.meter = meter;
        this.log = log;
        this.done = done;
        staging = dev.vnetHeader() ? ByteBuffer.allocateDirect(VnetHeader.LEN + 65_536) : null;
        stagingAddr = staging != null ? Sys.address(staging) : 0;
    }

    /** Moves frames until {@code until} (System.nanoTime), the backend fails, or {@link #done}. */
    void run(long until) {
        Batch batch = this.batch;
        while (!done.getAsBoolean()) {
            batch.clear();
            if (dev.vnetHeader()) {
                readSegments(batch);
            } else {
                readFrames(batch);
            }
            if (batch.count() == 0) {
                long now = System.nanoTime();
                if (now >= until) {
                    return;
                }
                if (dev.await((int) Math.max(1, Math.min(100, (until - now) / 1_000_000))) == TunDevice.HANGUP) {
                    throw Pump.gone(dev, null);
                }
                continue;
            }
            long t0 = System.nanoTime();
            int bytes = batch.bytes();
            try {
                backend.send(batch);
                meter.handedOver(bytes, batch.count());
                health.worked();
            } catch (IOException e) {
                health.down(e, t0);
                return;
            }
            long t1 = System.nanoTime();
            meter.busy(t1 - t0, bytes);
            if (t1 >= until) {
                return;
            }
        }
    }

    private void readFrames(Batch batch) {
        while (batch.hasRoom()) {
            int n;
            try {
                n = dev.read(batch.nextAddress(), Batch.MAX_FRAME);
            } catch (NativeException e) {
                throw Pump.gone(dev, e);
            }
            if (n < 0) {
                return; // the ring is empty
            }
            batch.add(n);
        }
    }

    /** A super-frame's segments that do not fit wait in the segmenter for the next batch. */
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
                n = dev.read(direct ? batch.nextAddress() : stagingAddr, staging.capacity());
            } catch (NativeException e) {
                throw Pump.gone(dev, e);
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
                log.accept(dev.name() + " handed over a frame the pump cannot cut (" + seg.refusal()
                        + "): dropped; further ones are dropped silently");
                saidRefused = true;
            }
        }
    }
}
