package io.tunshape.netlink;

import io.tunshape.sys.Errno;
import io.tunshape.sys.Fd;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * One change at a time per network namespace, across processes (as iptables' xtables lock): an
 * flock(2) on {@code /run/tunshape/lock/net-DEV-INO.lock}, where DEV and INO name the namespace's
 * nsfs inode as the calling thread sees it. Keyed by inode, not by name, so an unnamed namespace
 * (a /proc/PID/ns/net path, an unshare) has one too, and two names of one namespace share it.
 *
 * <p>flock belongs to the open file: the kernel releases it when its holder closes it or dies, even
 * by SIGKILL, so a crashed apply never leaves the namespace locked. The files stay (/run is a tmpfs;
 * deleting a lock file another process may be waiting on would let two holders in; the one exception
 * is the daemon's warm-up, whose private namespace no other process can reach); an inode reused
 * by a later namespace reuses its file, which is harmless. The holder writes its pid and what it does
 * into the file, so a waiter that gives up can say who held it. {@code TUNSHAPE_LOCK_DIR} moves the
 * directory (for tests and unusual layouts; every tunshape process on a host must agree on it).
 */
public final class NamespaceLock implements AutoCloseable {
    public static final Path DEFAULT_DIR = Path.of("/run/tunshape/lock");
    private static final long MAX_POLL_NANOS = 20_000_000L;

    private final Fd fd;
    private final Path path;

    private NamespaceLock(Fd fd, Path path) {
        this.fd = fd;
        this.path = path;
    }

    /** The lock directory: {@code $TUNSHAPE_LOCK_DIR}, or /run/tunshape/lock. */
    public static Path dir() {
        String d = System.getenv("TUNSHAPE_LOCK_DIR");
        return d == null || d.isEmpty() ? DEFAULT_DIR : Path.of(d);
    }

    /** "DEV-INO" of the calling thread's network namespace. */
    public static String key() {
        Path ns = Path.of("/proc/thread-self/ns/net");
        try {
            long dev = ((Number) Files.getAttribute(ns, "unix:dev")).longValue();
            long ino = ((Number) Files.getAttribute(ns, "unix:ino")).longValue();
            return Long.toUnsignedString(dev) + "-" + Long.toUnsignedString(ino);
        } catch (IOException e) {
            throw new NativeException("stat " + ns + ": " + e.getMessage(), Errno.EIO);
        }
    }

    /** nsfs's device: every namespace's inode lives on it (one per boot). */
    private static volatile String nsfsDev;

    /**
     * "DEV-INO" of the network namespace with inode {@code ino}, for a caller that is not inside it
     * (the daemon, whose sockets were opened inside each namespace and are used from any thread).
     */
    public static String key(long ino) {
        String dev = nsfsDev;
        if (dev == null) {
            String own = key();
            dev = own.substring(0, own.indexOf('-'));
            nsfsDev = dev;
        }
        return dev + "-" + Long.toUnsignedString(ino);
    }

    /** The lock file of the calling thread's network namespace. */
    public static Path file() {
        return file(key());
    }

    private static Path file(String key) {
        return dir().resolve("net-" + key + ".lock");
    }

    /**
     * The lock of the namespace with inode {@code ino}, without waiting: null when someone else
     * holds it now. {@code what}, when not null, is written for waiters to report (the daemon's
     * report path passes null: one write less on its fast path).
     */
    public static NamespaceLock tryExclusive(long ino, String what) {
        Path p = file(key(ino));
        Fd fd = openFile(p);
        if (!Sys.tryFlock(fd, Sys.LOCK_EX)) {
            fd.close();
            return null;
        }
        return held(fd, p, what);
    }

    /** Whether {@code l} was taken: a BusyException that names the holder when not. */
    public static NamespaceLock orBusy(NamespaceLock l, long ino) {
        if (l == null) {
            Path p = file(key(ino));
            throw new BusyException(p, holder(p), Duration.ZERO);
        }
        return l;
    }

    /**
     * Takes the calling thread's namespace's lock, exclusively, waiting up to {@code wait} (polling,
     * as iptables' --wait does). {@code what} (e.g. "tunshape apply") is written into the file for
     * waiters to report.
     *
     * @throws BusyException when another holder kept it for the whole wait
     */
    public static NamespaceLock exclusive(Duration wait, String what) {
        return take(Sys.LOCK_EX, wait, what);
    }

    /**
     * Takes it shared, for readers (show) that want no change in the middle of their reading; a
     * shared holder leaves the file's holder line alone.
     */
    public static NamespaceLock shared(Duration wait) {
        return take(Sys.LOCK_SH, wait, null);
    }

    /** As {@link #exclusive}, but without waiting: null when someone else holds it now. */
    public static NamespaceLock tryExclusive(String what) {
        Path p = file();
        Fd fd = openFile(p);
        if (!Sys.tryFlock(fd, Sys.LOCK_EX)) {
            fd.close();
            return null;
        }
        return held(fd, p, what);
    }

    /** As {@link #exclusive(Duration, String)}, for the namespace with inode {@code ino}. */
    public static NamespaceLock exclusive(long ino, Duration wait, String what) {
        return take(file(key(ino)), Sys.LOCK_EX, wait, what);
    }

    private static NamespaceLock take(int op, Duration wait, String what) {
        return take(file(), op, wait, what);
    }

    private static NamespaceLock take(Path p, int op, Duration wait, String what) {
        Fd fd = openFile(p);
        long start = System.nanoTime();
        long deadline = start + Math.max(0, wait.toNanos());
        long pause = 1_000_000L;
        try {
            while (!Sys.tryFlock(fd, op)) {
                long now = System.nanoTime();
                if (now - deadline >= 0) {
                    throw new BusyException(p, holder(p), Duration.ofNanos(now - start));
                }
                java.util.concurrent.locks.LockSupport.parkNanos(Math.min(pause, deadline - now));
                if (Thread.interrupted()) {
                    throw new BusyException(p, holder(p), Duration.ofNanos(System.nanoTime() - start));
                }
                pause = Math.min(pause * 2, MAX_POLL_NANOS);
            }
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
        return held(fd, p, what);
    }

    private static NamespaceLock held(Fd fd, Path p, String what) {
        if (what == null) {
            return new NamespaceLock(fd, p);
        }
        // written through Sys: java.nio.file's channel for it took about 2 ms of a one-shot apply (issue 24)
        try (Fd w = Sys.open(p.toString(), Sys.O_WRONLY | Sys.O_TRUNC | Sys.O_CLOEXEC)) {
            byte[] line = ("pid " + PID + ": " + what + "\n").getBytes(StandardCharsets.UTF_8);
            Sys.write(w, ByteBuffer.allocateDirect(line.length).put(line).flip());
        } catch (NativeException e) {
            // only the waiters' message loses the holder's name; the lock itself is held
        }
        return new NamespaceLock(fd, p);
    }

    /**
     * This process's id, read once from /proc/self: ProcessHandle's first use builds its reaper's
     * thread pool (about 3 ms of a one-shot apply, issue 24).
     */
    private static final String PID = pid();

    private static String pid() {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self")).toString();
        } catch (IOException | UnsupportedOperationException e) {
            return Long.toString(ProcessHandle.current().pid());
        }
    }

    private static Fd openFile(Path p) {
        try {
            // the usual case, without the exception creating an existing file costs (the report path)
            return Sys.open(p.toString(), Sys.O_RDONLY | Sys.O_CLOEXEC);
        } catch (NativeException e) {
            if (e.errno() != Errno.ENOENT) {
                throw e;
            }
        }
        try {
            Files.createDirectories(p.getParent());
            try {
                Files.createFile(p);
            } catch (FileAlreadyExistsException e) {
                // the usual case: another holder made it
            }
        } catch (AccessDeniedException e) {
            throw new NativeException("lock file " + p + ": permission denied", Errno.EACCES);
        } catch (IOException e) {
            throw new NativeException("lock file " + p + ": " + e, Errno.EIO);
        }
        return Sys.open(p.toString(), Sys.O_RDONLY | Sys.O_CLOEXEC);
    }

    private static String holder(Path p) {
        try {
            String s = Files.readString(p, StandardCharsets.UTF_8).strip();
            return s.length() > 200 ? s.substring(0, 200) : s;
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    public Path path() {
        return path;
    }

    /** Releases the lock (closing the file releases the flock). */
    @Override
    public void close() {
        fd.close();
    }

    /**
     * The lock file of the namespace with inode {@code ino}, opened once and kept open for as long as
     * this process serves the namespace (the daemon), so that taking the lock costs one flock(2), not
     * an open, a flock, a write and a close. See {@link Keeper}.
     */
    public static Keeper keeper(long ino) {
        Path p = file(key(ino));
        return new Keeper(openFile(p), p);
    }

    /** As {@link #keeper(long)}, for the calling thread's network namespace. */
    public static Keeper keeper() {
        Path p = file();
        return new Keeper(openFile(p), p);
    }

    /**
     * One process's hold on a namespace's lock, shared by its threads: the flock is taken when the
     * first user enters and dropped when the last one leaves, so other processes (an apply, a clear)
     * are excluded while any thread of this one is inside, and this process's own threads never wait
     * for one another here (the daemon's report thread does not wait behind its event loop's pass;
     * the two use separate sockets and order their rate changes themselves). flock belongs to the open
     * file, so two threads entering through one Keeper share one hold: the count decides when it goes.
     */
    public static final class Keeper implements AutoCloseable {
        private final Fd fd;
        private final Path path;
        private int users;
        private boolean closed;

        private Keeper(Fd fd, Path path) {
            this.fd = fd;
            this.path = path;
        }

        /** The lock file. */
        public Path path() {
            return path;
        }

        /**
         * Enters without waiting: false when another process holds the lock now. {@code what}, when not
         * null and the flock is taken afresh, is written into the file for waiters to report.
         */
        public boolean tryEnter(String what) {
            synchronized (this) {
                if (closed) {
                    return false;
                }
                if (users == 0 && !Sys.tryFlock(fd, Sys.LOCK_EX)) {
                    return false;
                }
                users++;
                if (users == 1 && what != null) {
                    held(fd, path, what);
                }
                return true;
            }
        }

        /** As {@link #tryEnter}, or a BusyException that names the holder. */
        public void enterOrBusy(String what) {
            if (!tryEnter(what)) {
                throw new BusyException(path, holder(path), Duration.ZERO);
            }
        }

        /** Enters, waiting up to {@code wait} for another process to leave (polling, as {@link #exclusive}). */
        public void enter(Duration wait, String what) {
            long start = System.nanoTime();
            long pause = 1_000_000L;
            while (!tryEnter(what)) {
                long waited = System.nanoTime() - start;
                if (waited >= wait.toNanos() || Thread.currentThread().isInterrupted()) {
                    throw new BusyException(path, holder(path), Duration.ofNanos(waited));
                }
                java.util.concurrent.locks.LockSupport.parkNanos(Math.min(pause, wait.toNanos() - waited));
                pause = Math.min(pause * 2, MAX_POLL_NANOS);
            }
        }

        /** Leaves; the last user out drops the flock. */
        public void exit() {
            synchronized (this) {
                if (--users == 0 && !closed) {
                    Sys.tryFlock(fd, Sys.LOCK_UN);
                }
            }
        }

        /** Closes the file (the namespace is no longer served): the kernel drops any flock with it. */
        @Override
        public void close() {
            synchronized (this) {
                if (!closed) {
                    closed = true;
                    fd.close();
                }
            }
        }
    }

    /** Another holder kept the namespace's lock for the whole wait. */
    public static final class BusyException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final Path path;
        private final String holder;

        BusyException(Path path, String holder, Duration waited) {
            super("another change to this network namespace is in progress" + (holder.isEmpty() ? "" : " (" + holder
                    + ")") + "; waited " + waited.toMillis() + " ms for its lock " + path);
            this.path = path;
            this.holder = holder;
        }

        public Path path() {
            return path;
        }

        /** "pid N: what" as the holder wrote it, or empty. */
        public String holder() {
            return holder;
        }
    }
}
