package io.tunshape.pump;

import io.tunshape.sys.Errno;
import io.tunshape.sys.NativeException;
import io.tunshape.tun.TunDevice;

import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Moves frames between a tun/tap device and a backend, in both directions, and measures what the
 * backend delivers. Device to backend runs on the calling thread: straight through
 * ({@link PassThrough}), or across an emulated link ({@link EmulatedLink}) when a {@link LinkModel}
 * is given. Backend to device runs on a second thread ({@link DeviceWriter}). Each report interval
 * is closed by the {@link Meter}; the backend's outages and retries are {@link BackendHealth}'s.
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

    private final TunDevice dev;
    private final Backend backend;
    private final Options o;
    private volatile boolean stop;
    private final BackendHealth health;
    private final Meter meter;
    private final DeviceWriter writer;
    /** Null without emulation. */
    private final EmulatedLink link;
    private final PassThrough passThrough;

    public Pump(TunDevice dev, Backend backend, Options options) {
        if (dev.vnetHeader() && options.model() != null) {
            // emulation reads frame by frame into its queue, which would hold a 64 KB super-frame
            // that a slow link takes seconds to carry: the kernel's qdisc must hold it instead
            throw new IllegalArgumentException("a device with offloads cannot be used with link emulation");
        }
        this.dev = dev;
        this.backend = backend;
        this.o = options;
        health = new BackendHealth(backend, options.log());
        meter = new Meter(dev.name(), options.netns(), options.counters(), options.epochNanos(), dev.backpressure());
        writer = new DeviceWriter(dev, backend, health, options.log());
        link = options.model() != null ? new EmulatedLink(dev, backend, health, meter, options.model(), options.queue())
                : null;
        passThrough = link == null ? new PassThrough(dev, backend, health, meter, options.log(), this::done) : null;
    }

    public void stop() {
        stop = true;
    }

    /** Frames handed to the backend; read on the pump's thread (after {@link #run} returns). */
    public long txFramesTotal() {
        return meter.txFramesTotal();
    }

    /** Frames written to the device (any thread). */
    public long rxFramesTotal() {
        return writer.frames();
    }

    static DeviceGoneException gone(TunDevice dev, NativeException e) {
        return new DeviceGoneException("device " + dev.name() + " went away (deleted?)"
                + (e != null ? ": " + Errno.text(e.errno()) : ""));
    }

    /** Whether the pump stops: asked to, or the device writer found the device gone. */
    private boolean done() {
        return stop || writer.failure() != null;
    }

    /** Runs until {@link #stop()}; throws {@link DeviceGoneException} when the device is deleted. */
    public void run() {
        meter.start();
        health.open(System.nanoTime());
        Thread rx = new Thread(writer, "pump-rx-" + dev.name());
        rx.setDaemon(true);
        rx.start();
        try {
            loop();
        } finally {
            stop = true;
            writer.stop();
            backend.close(); // wakes a receive blocked in the backend
            try {
                rx.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void loop() {
        long intervalNanos = o.reportIntervalMs() * 1_000_000L;
        long intervalStart = System.nanoTime();
        long nextReport = intervalStart + intervalNanos;
        while (!stop) {
            long now = System.nanoTime();
            if (link == null && health.up() && now < nextReport) {
                passThrough.run(nextReport);
            } else {
                if (now >= nextReport) {
                    report(now - intervalStart);
                    intervalStart = now;
                    nextReport = now + intervalNanos;
                }
                if (!health.up() && now >= health.retryAt()) {
                    health.open(now);
                }
                if (link != null) {
                    link.step(now, nextReport);
                } else if (!health.up()) {
                    // no emulation, the backend down: nothing to do until the retry or the report
                    long wait = Math.min(Math.min(nextReport, health.retryAt()) - now, 100_000_000L);
                    if (wait > 0) {
                        LockSupport.parkNanos(wait);
                    }
                }
            }
            DeviceGoneException g = writer.failure();
            if (g != null) {
                throw g;
            }
        }
    }

    private void report(long elapsedNanos) {
        if (link != null) {
            link.creditInFlight();
        }
        Interval iv = meter.close(elapsedNanos, link != null ? link.backlog() : 0, writer.frames());
        if (o.stats() != null) {
            o.stats().accept(iv);
        }
        if (o.reporter() != null) {
            o.reporter().send(iv.toJson(), o.log());
        }
    }
}
