package io.tunshape.daemon;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;
import io.tunshape.sys.UnixDatagram;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The report socket (protocol: tunshape-report(7)). The socket file is made mode 0660, so only its
 * owner and group may report, and each datagram's sender is checked again from the credentials
 * the kernel attaches (SO_PASSCRED): root, the socket's owner (the daemon's user) or its group.
 * Unauthorised, malformed, oversized and unknown reports are counted and ignored; nothing a sender
 * does reaches further than one datagram's parse.
 */
final class ReportListener implements AutoCloseable {
    static final int MAX = 4096;

    /**
     * A valid report's fields; {@code capacityBps} -1 when the driver did not give one, {@code txFrames}
     * and {@code ring} (frames in tun's ring) -1 when not given.
     */
    record Report(String dev, String netns, long intervalMs, long txBytes, long busyMs, long capacityBps,
                  long txFrames, long ring, long qdisc) {
    }

    final AtomicLong accepted = new AtomicLong();
    final AtomicLong rejected = new AtomicLong();
    final AtomicLong unknown = new AtomicLong();
    final AtomicLong unauthorised = new AtomicLong();
    private int permittedGid = -1;
    private int permittedUid = 0;
    private final Consumer<Report> sink;
    private final Consumer<String> log;
    private final JsonFactory json = new JsonFactory();
    private UnixDatagram socket;
    private Path path;
    private volatile boolean stop;
    private Thread thread;

    /** When the report being handed over reached the socket (epoch ns), or -1: read it from the sink. */
    private volatile long arrival = -1;

    long arrivalNanos() {
        return arrival;
    }

    ReportListener(Consumer<Report> sink, Consumer<String> log) {
        this.sink = sink;
        this.log = log;
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
        ByteBuffer buf = ByteBuffer.allocateDirect(MAX + 1);
        byte[] bytes = new byte[MAX];
        while (!stop) {
            try {
                if ((Sys.poll(socket.fd(), Sys.POLLIN, 1000) & Sys.POLLIN) == 0) {
                    continue;
                }
                buf.clear();
                int n = socket.receiveWithSender(buf);
                if (!permitted(socket.lastSender())) {
                    // the socket's mode keeps others out; this holds if someone loosens it
                    unauthorised.incrementAndGet();
                    continue;
                }
                if (n > MAX) {
                    rejected.incrementAndGet();
                    continue;
                }
                buf.get(0, bytes, 0, n);
                Report r = parse(bytes, n);
                if (r == null) {
                    rejected.incrementAndGet();
                    continue;
                }
                arrival = socket.lastArrivalNanos();
                sink.accept(r);
            } catch (NativeException e) {
                if (!stop) {
                    log.accept("report socket: " + e.getMessage());
                }
            } catch (RuntimeException e) {
                rejected.incrementAndGet();
            }
        }
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

    /** The report in {@code b[0, n)}, or null when it is not a valid report. */
    Report parse(byte[] b, int n) {
        try (JsonParser p = json.createParser(b, 0, n)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            long v = -1;
            String dev = null;
            String netns = null;
            long interval = -1;
            long tx = -1;
            long busy = -1;
            long cap = -1;
            long frames = -1;
            long ring = -1;
            long qdisc = -1;
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String f = p.currentName();
                JsonToken vt = p.nextToken();
                switch (f) {
                    case "v" -> v = vt == JsonToken.VALUE_NUMBER_INT ? p.getLongValue() : -1;
                    case "dev" -> dev = vt == JsonToken.VALUE_STRING ? p.getText() : null;
                    case "netns" -> netns = vt == JsonToken.VALUE_STRING ? p.getText() : null;
                    case "interval_ms" -> interval = vt == JsonToken.VALUE_NUMBER_INT ? p.getLongValue() : -1;
                    case "tx_bytes" -> tx = vt == JsonToken.VALUE_NUMBER_INT ? p.getLongValue() : -1;
                    case "busy_ms" -> busy = vt == JsonToken.VALUE_NUMBER_INT ? p.getLongValue() : -1;
                    // optional counts: present means a number >= 0 (capacity 0: the link carries nothing now)
                    case "capacity_bps" -> cap = count(p, vt);
                    case "tx_frames" -> frames = count(p, vt);
                    case "ring" -> ring = count(p, vt);
                    case "qdisc" -> qdisc = count(p, vt);
                    default -> p.skipChildren();
                }
            }
            if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
                return null;
            }
            if (v != 1 || dev == null || dev.isEmpty() || dev.length() > 15 || interval <= 0 || tx < 0 || busy < 0
                    || cap < -1 || frames < -1 || ring < -1 || qdisc < -1) {
                return null;
            }
            return new Report(dev, netns, interval, tx, busy, cap, frames, ring, qdisc);
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
    }

    /** An optional count's value: a non-negative integer, else -2 (invalid). */
    private static long count(JsonParser p, JsonToken t) throws java.io.IOException {
        if (t != JsonToken.VALUE_NUMBER_INT) {
            return -2;
        }
        long v = p.getLongValue();
        return v >= 0 ? v : -2;
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
