package io.tunshape.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * An epoll instance (epoll(7)) and eventfd wake-ups: the daemon's one event loop waits on every
 * namespace's sockets with it, at a cost that does not grow with the number it watches (poll(2)
 * would scan a thousand descriptors on each wake-up). Each registered descriptor carries a long of
 * the caller's choosing, returned with its readiness.
 */
public final class Epoll implements AutoCloseable {
    public static final int EPOLLIN = 0x1;
    public static final int EPOLLPRI = 0x2;
    public static final int EPOLLERR = 0x8;
    private static final int EPOLL_CTL_ADD = 1;
    private static final int EPOLL_CTL_DEL = 2;
    private static final int EPOLL_CLOEXEC = 0x80000;
    private static final int EFD_CLOEXEC = 0x80000;
    private static final int EFD_NONBLOCK = 0x800;
    /** struct epoll_event is packed on x86-64 (12 bytes), naturally aligned elsewhere (16). */
    private static final int EVENT_SIZE = "amd64".equals(System.getProperty("os.arch"))
            || "x86_64".equals(System.getProperty("os.arch")) ? 12 : 16;
    private static final int DATA_OFFSET = EVENT_SIZE == 12 ? 4 : 8;

    static {
        Native.register(Epoll.class, NativeLibrary.getInstance("c"));
    }

    private static native int epoll_create1(int flags) throws LastErrorException;

    private static native int epoll_ctl(int epfd, int op, int fd, ByteBuffer event) throws LastErrorException;

    private static native int epoll_wait(int epfd, ByteBuffer events, int maxevents, int timeout);

    private static native int eventfd(int initval, int flags) throws LastErrorException;

    private final Fd fd;
    private final ByteBuffer ctl = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder());
    private final ByteBuffer ready;
    private final int max;
    private int count;

    /** An epoll instance that returns up to {@code max} ready descriptors a wait. */
    public Epoll(int max) {
        try {
            this.fd = new Fd(epoll_create1(EPOLL_CLOEXEC));
        } catch (LastErrorException e) {
            throw new NativeException("epoll_create1", e.getErrorCode());
        }
        this.max = max;
        this.ready = ByteBuffer.allocateDirect(EVENT_SIZE * max).order(ByteOrder.nativeOrder());
    }

    /** Watches {@code target} for {@code events}; {@code data} comes back with its readiness. */
    public void add(Fd target, int events, long data) {
        ctl.putInt(0, events).putLong(DATA_OFFSET, data);
        int n = target.acquire();
        int e = fd.acquire();
        try {
            epoll_ctl(e, EPOLL_CTL_ADD, n, ctl);
        } catch (LastErrorException x) {
            throw new NativeException("epoll_ctl(ADD)", x.getErrorCode());
        } finally {
            fd.release();
            target.release();
        }
    }

    /** Stops watching {@code target} (before it is closed: a closed descriptor leaves epoll by itself too). */
    public void remove(Fd target) {
        int n;
        try {
            n = target.acquire();
        } catch (NativeException closed) {
            return;
        }
        int e = fd.acquire();
        try {
            epoll_ctl(e, EPOLL_CTL_DEL, n, ctl);
        } catch (LastErrorException ignored) {
            // not registered, or already gone with its last reference: nothing to stop
        } finally {
            fd.release();
            target.release();
        }
    }

    /** Waits up to {@code timeoutMs} (-1: for ever); returns how many are ready ({@link #data}, {@link #events}). */
    public int await(int timeoutMs) {
        int e = fd.acquire();
        try {
            int n = epoll_wait(e, ready, max, timeoutMs);
            if (n < 0) {
                int errno = Native.getLastError();
                if (errno == Errno.EINTR) {
                    return count = 0;
                }
                throw new NativeException("epoll_wait", errno);
            }
            return count = n;
        } finally {
            fd.release();
        }
    }

    /** The data of the {@code i}th ready descriptor of the last wait. */
    public long data(int i) {
        return ready.getLong(i * EVENT_SIZE + DATA_OFFSET);
    }

    /** The events of the {@code i}th ready descriptor of the last wait. */
    public int events(int i) {
        return ready.getInt(i * EVENT_SIZE);
    }

    /** A non-blocking eventfd: another thread {@link #signal}s it to wake the loop that watches it. */
    public static Fd eventFd() {
        try {
            return new Fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        } catch (LastErrorException e) {
            throw new NativeException("eventfd", e.getErrorCode());
        }
    }

    private static final ThreadLocal<ByteBuffer> ONE =
            ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder()));

    /** Adds one to an eventfd (wakes its watcher). */
    public static void signal(Fd eventFd) {
        ByteBuffer b = ONE.get();
        b.putLong(0, 1);
        Sys.write(eventFd, Sys.address(b), 8);
    }

    /** Reads an eventfd back to zero. */
    public static void drain(Fd eventFd) {
        Sys.read(eventFd, Sys.address(ONE.get()), 8);
    }

    @Override
    public void close() {
        fd.close();
    }
}
