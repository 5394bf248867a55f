package io.tunshape.pump;

import java.io.IOException;
import java.util.function.Consumer;

/**
 * Whether the backend is up, and when to try it again: "down" is said once per outage, retries are
 * silent, with backoff from 100 ms doubling up to 5 s; "up again" is said once the backend confirms
 * it (a send went through and, for a datagram backend, no error came back, or a frame came in).
 *
 * <p>Threads: {@link #open}, {@link #down}, {@link #up} and {@link #retryAt} belong to the pump's
 * thread; {@link #worked} is called from both (a send on the pump's thread, a frame received on the
 * backend's), so what it changes is under the lock, and its check is a volatile read.
 */
final class BackendHealth {
    private static final long FIRST_BACKOFF_MS = 100;
    private static final long MAX_BACKOFF_MS = 5000;

    private final Backend backend;
    private final Consumer<String> log;
    /** The pump's thread only. */
    private boolean up = true;
    private long retryAt;
    /** Written by both threads, under the lock. */
    private long backoffMs = FIRST_BACKOFF_MS;
    private volatile boolean saidDown;

    BackendHealth(Backend backend, Consumer<String> log) {
        this.backend = backend;
        this.log = log;
    }

    /** Opens (or reopens) the backend; a failure counts as an outage. */
    void open(long now) {
        try {
            backend.open();
            up = true;
        } catch (IOException e) {
            down(e, now);
        }
    }

    /** The backend failed at {@code now}: down until {@link #retryAt}. */
    synchronized void down(IOException e, long now) {
        if (!saidDown) {
            log.accept("backend " + backend.describe() + " is down: " + e.getMessage() + "; retrying with backoff "
                    + "(the device stays)");
            saidDown = true;
        }
        up = false;
        retryAt = now + backoffMs * 1_000_000L;
        backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
    }

    /** After a send went through, or a frame came: says "up again" once the backend confirms it. */
    void worked() {
        if (saidDown) {
            confirmUp();
        }
    }

    private synchronized void confirmUp() {
        if (saidDown && backend.confirmed()) {
            log.accept("backend " + backend.describe() + " is up again");
            saidDown = false;
            backoffMs = FIRST_BACKOFF_MS;
        }
    }

    boolean up() {
        return up;
    }

    /** When to open the backend again (System.nanoTime), while it is down. */
    long retryAt() {
        return retryAt;
    }
}
