package io.tunshape.daemon;

import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;
import io.tunshape.sys.UnixDatagram;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Consumer;

/**
 * The report socket (protocol: tunshape-report(7)). The socket file is made mode 0660, so only its
 * owner and group may report, and each datagram's sender is checked again from the credentials
 * the kernel attaches (SO_PASSCRED): root, the socket's owner (the daemon's user) or its group.
 * Unauthorised, malformed, oversized and unknown reports are counted and ignored; nothing a sender
 * does reaches further than one datagram's parse.
 */
final class ReportListener implements AutoCloseable {
    static final int MAX = ReportParser.MAX;

    /**
     * Takes a valid report from {@code senderPid} that reached the socket at {@code arrivalNanos}
     * (epoch ns, the kernel's stamp; -1 unknown) and that this thread had in hand at {@code
     * receivedNanoTime} ({@link System#nanoTime()}, when recvmsg returned): null when used, else why it was not.
     */
    interface Sink {
        ReportParser.Reason accept(ReportParser.Report r, int senderPid, long arrivalNanos, long receivedNanoTime);
    }

    /** Refused reports by reason (the index is the reason's ordinal). */
    private final AtomicLongArray refused = new AtomicLongArray(ReportParser.Reason.values().length);
    private int permittedGid = -1;
    private int permittedUid = 0;
    private final Sink sink;
    private final Consumer<String> log;
    private final Consumer<Throwable> fatal;
    private UnixDatagram socket;
    private Path path;
    private volatile boolean stop;
    private Thread thread;
    /** When a sender's refusal for a reason was last logged (ms): at most once a minute each. */
    private final java.util.HashMap<Long, Long> logged = new java.util.HashMap<>();

    /** How many reports were refused for {@code r}. */
    long refused(ReportParser.Reason r) {
        return refused.get(r.ordinal());
    }

    /** Every refused report, whatever the reason. */
    long refusedTotal() {
        long n = 0;
        for (int i = 0; i < refused.length(); i++) {
            n += refused.get(i);
        }
        return n;
    }

    /**
     * {@code fatal} is told when the report thread cannot go on: the daemon then ends, non-zero, for
     * its supervisor to restart it.
     */
    ReportListener(Sink sink, Consumer<String> log, Consumer<Throwable> fatal) {
        this.sink = sink;
        this.log = log;
        this.fatal = fatal;
    }

    /** Starts the report thread, scheduled as {@code scheduling} says. */
    void start(String socketPath, DaemonConfig.Scheduling scheduling) throws Exception {
        path = Path.of(socketPath);
        Files.createDirectories(path.getParent());
        Files.deleteIfExists(path); // a stale socket from a daemon that was killed
        socket = new UnixDatagram();
        socket.bind(socketPath);
        socket.passCredentials();
        socket.stampArrivals();
        socket.receiveTimeout(1000);
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw----"));
        permittedGid = (Integer) Files.getAttribute(path, "unix:gid");
        permittedUid = (Integer) Files.getAttribute(path, "unix:uid");
        thread = new Thread(() -> {
            schedule(scheduling);
            loop();
        }, "reports");
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * SCHED_DEADLINE for this thread when asked: a report's change then waits for no other task (on
     * two busy CPUs, p99 from a report's arrival to the kernel's ack went from 4.1 ms to 0.4 ms), and
     * the thread never takes more than runtime / period of a CPU, however fast reports come. Not the
     * default: on idle CPUs the kernel wakes a real-time thread on an idle CPU rather than beside its
     * waker, and on a VM that was slower (p99 0.45-1.3 ms against 0.39-0.53 ms, interleaved runs).
     */
    private void schedule(DaemonConfig.Scheduling s) {
        if (!s.deadline()) {
            return;
        }
        String budget = s.runtimeNs() / 1000 + " us of CPU every " + s.periodNs() / 1000 + " us";
        try {
            Sys.scheduleDeadline(s.runtimeNs(), s.periodNs());
            log.accept("report thread: SCHED_DEADLINE, " + budget);
        } catch (NativeException e) {
            log.accept("report thread: SCHED_DEADLINE (" + budget + ") refused: " + e.getMessage()
                    + (e.errno() == io.tunshape.sys.Errno.EPERM ? "; it needs CAP_SYS_NICE, and the thread allowed "
                    + "on every CPU (no narrower affinity or cpuset)" : "")
                    + "; normal scheduling");
        }
    }


    private void loop() {
        try {
            serve();
        } catch (Throwable t) {
            log.accept("the report thread failed: " + t);
            fatal.accept(t);
        }
    }

    private void serve() {
        ByteBuffer buf = ByteBuffer.allocateDirect(MAX + 1);
        byte[] bytes = new byte[MAX];
        int errors = 0;
        while (!stop) {
            try {
                if (receiveOne(buf, bytes)) {
                    errors = 0;
                }
            } catch (NativeException e) {
                if (stop) {
                    return;
                }
                log.accept("report socket: " + e.getMessage());
                if (++errors >= 100) {
                    // a socket that fails a hundred times in a row will not mend: no reports can come
                    throw new IllegalStateException("the report socket failed 100 times in a row: " + e.getMessage(), e);
                }
            }
        }
    }

    /**
     * Receives one datagram and hands on its report: true when a report reached the sink (which ends
     * a run of socket errors), false for none or a refused one. A method of its own, not the
     * body of {@link #serve}'s loop: the loop is entered once and so runs interpreted (C1 compiles a
     * running loop only after some 60,000 turns), while this is compiled during the warm-up; run by
     * the interpreter, the loop body cost several microseconds of every report after an idle gap.
     */
    private boolean receiveOne(ByteBuffer buf, byte[] bytes) {
        // blocking in recvmsg itself (up to a second, to look at stop): no poll before it, which on a
        // report woken from idle cost about 8 us more (the first syscalls after a wake-up are the slow ones)
        buf.clear();
        int n;
        try {
            n = socket.receiveWithSender(buf);
        } catch (NativeException e) {
            if (e.errno() == io.tunshape.sys.Errno.EAGAIN || e.errno() == io.tunshape.sys.Errno.EINTR) {
                return false;
            }
            throw e;
        }
        long received = System.nanoTime();
        UnixDatagram.Credentials from = socket.lastSender();
        int pid = from == null ? 0 : from.pid();
        if (!permitted(from)) {
            // the socket's mode keeps others out; this holds if someone loosens it
            refuse(ReportParser.Outcome.refuse(ReportParser.Reason.UNAUTHORISED, null), pid);
            return false;
        }
        if (n > MAX) {
            refuse(ReportParser.Outcome.refuse(ReportParser.Reason.OVERSIZED, null), pid);
            return false;
        }
        buf.get(0, bytes, 0, n);
        ReportParser.Outcome o = ReportParser.parse(bytes, 0, n);
        if (o.report() == null) {
            refuse(o, pid);
            return false;
        }
        ReportParser.Reason r = sink.accept(o.report(), pid, socket.lastArrivalNanos(), received);
        if (r != null) {
            refuse(ReportParser.Outcome.refuse(r, null), pid);
        }
        return true;
    }

    /** Counts a refused report, and logs it unless this sender's refusals for this reason were logged in the last minute. */
    private void refuse(ReportParser.Outcome o, int pid) {
        refused.incrementAndGet(o.refused().ordinal());
        long now = System.nanoTime() / 1_000_000;
        long key = ((long) pid << 8) | o.refused().ordinal();
        Long last = logged.get(key);
        if (last != null && now - last < 60_000) {
            return;
        }
        if (logged.size() > 4096) {
            logged.clear(); // a bound on what many short-lived senders can make it hold
        }
        logged.put(key, now);
        log.accept("report from pid " + pid + " refused: " + o.why() + " (said once a minute per sender and reason)");
    }

    /**
     * root, the daemon's own user (the socket file's owner: its warm-up reports too), or a sender whose
     * primary group is the socket file's group may report.
     */
    private boolean permitted(io.tunshape.sys.UnixDatagram.Credentials c) {
        if (c == null) {
            return false;
        }
        return c.uid() == 0 || c.uid() == permittedUid || c.gid() == permittedGid;
    }

    @Override
    public void close() {
        stop = true;
        if (thread != null) {
            try {
                thread.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (socket != null) {
            socket.close();
        }
        try {
            if (path != null) {
                Files.deleteIfExists(path);
            }
        } catch (java.io.IOException ignored) {
            // nothing to do
        }
    }
}
