package io.tunshape.sys;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A reference-counted file descriptor. {@link #close()} marks it closed; the descriptor number is
 * released to the kernel only when the last user has {@link #release()}d it, so a close cannot
 * race a call that is still using the number (which could otherwise hit a reused descriptor).
 */
public final class Fd implements AutoCloseable {
    private static final int CLOSED = 1;
    private final int fd;
    /** count of users times 2, plus the CLOSED bit. */
    private final AtomicInteger state = new AtomicInteger(2);

    public Fd(int fd) {
        this.fd = fd;
    }

    /** The descriptor number, for a call; pair with {@link #release()}. */
    public int acquire() {
        while (true) {
            int s = state.get();
            if ((s & CLOSED) != 0) {
                throw new NativeException("use of closed fd " + fd, Errno.EBADF);
            }
            if (state.compareAndSet(s, s + 2)) {
                return fd;
            }
        }
    }

    public void release() {
        if (state.addAndGet(-2) == CLOSED) {
            doClose();
        }
    }

    @Override
    public void close() {
        while (true) {
            int s = state.get();
            if ((s & CLOSED) != 0) {
                return;
            }
            // drop the owner's reference and set CLOSED in one step
            int next = (s - 2) | CLOSED;
            if (state.compareAndSet(s, next)) {
                if (next == CLOSED) {
                    doClose();
                }
                return;
            }
        }
    }

    private void doClose() {
        Sys.closeQuietly(fd);
    }

    @Override
    public String toString() {
        return "fd " + fd;
    }
}
