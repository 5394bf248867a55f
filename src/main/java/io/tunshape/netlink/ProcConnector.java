package io.tunshape.netlink;

import io.tunshape.sys.Errno;
import io.tunshape.sys.Fd;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The kernel's process events (the proc connector, NETLINK_CONNECTOR / CN_IDX_PROC): a process
 * forked, exec'd or exited, host-wide. A socket filter keeps only those three, and only for whole
 * processes (a thread's fork or exit never wakes the reader). Needs CAP_NET_ADMIN in the host's
 * user namespace.
 */
public final class ProcConnector implements AutoCloseable {
    private static final int NETLINK_CONNECTOR = 11;
    private static final int SOCK_DGRAM = 2;
    private static final int CN_IDX_PROC = 1;
    private static final int CN_VAL_PROC = 1;
    private static final int PROC_CN_MCAST_LISTEN = 1;
    public static final int FORK = 1;
    public static final int EXEC = 2;
    public static final int EXIT = 0x80000000;
    /** nlmsghdr (16) + cn_msg (20): then struct proc_event {what, cpu, timestamp_ns, data}. */
    private static final int EVENT = 36;
    private static final int DATA = EVENT + 16;

    private final Fd fd;
    private final ByteBuffer rx = ByteBuffer.allocateDirect(8192).order(ByteOrder.nativeOrder());

    private ProcConnector(Fd fd) {
        this.fd = fd;
    }

    /** Subscribes to process events; throws when not permitted (EPERM) or not built in. */
    public static ProcConnector open() {
        Fd fd = Sys.socket(Nl.AF_NETLINK, SOCK_DGRAM | Sys.SOCK_CLOEXEC, NETLINK_CONNECTOR);
        try {
            Sys.setsockopt(fd, Sys.SOL_SOCKET, Sys.SO_RCVBUF, 1 << 20);
            ByteBuffer sa = ByteBuffer.allocateDirect(12).order(ByteOrder.nativeOrder());
            sa.putShort((short) Nl.AF_NETLINK).putShort((short) 0).putInt(0).putInt(CN_IDX_PROC).flip();
            Sys.bind(fd, sa);
            Sys.attachFilter(fd, filter());
            ByteBuffer m = ByteBuffer.allocateDirect(40).order(ByteOrder.nativeOrder());
            m.putInt(40).putShort((short) Nl.NLMSG_DONE).putShort((short) 0).putInt(0).putInt(0)
                    .putInt(CN_IDX_PROC).putInt(CN_VAL_PROC).putInt(0).putInt(0).putShort((short) 4).putShort((short) 0)
                    .putInt(PROC_CN_MCAST_LISTEN).flip();
            ByteBuffer kernel = ByteBuffer.allocateDirect(12).order(ByteOrder.nativeOrder());
            kernel.putShort((short) Nl.AF_NETLINK).putShort((short) 0).putInt(0).putInt(0).flip();
            Sys.sendto(fd, m, 0, kernel);
            return new ProcConnector(fd);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** A word as the filter's absolute loads see it (big-endian) when the kernel wrote it in host order. */
    static int asLoaded(int v) {
        return ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN ? v : Integer.reverseBytes(v);
    }

    /**
     * Classic BPF: keep exec; keep fork when the child is a process (child pid = child tgid); keep
     * exit when a process (pid = tgid) ends; drop the rest (thread events, uid, comm, ptrace, ...).
     */
    private static int[][] filter() {
        return new int[][] {
            {0x20, 0, 0, EVENT},                 // 0: A = what
            {0x15, 12, 0, asLoaded(EXEC)},       // 1: exec: keep (14)
            {0x15, 6, 0, asLoaded(FORK)},        // 2: fork: 9
            {0x15, 0, 11, asLoaded(EXIT)},       // 3: exit: 4, anything else: drop (15)
            {0x20, 0, 0, DATA + 4},              // 4: exit: A = tgid
            {0x02, 0, 0, 0},                     // 5: M[0] = A
            {0x61, 0, 0, 0},                     // 6: X = M[0]
            {0x20, 0, 0, DATA},                  // 7: A = pid
            {0x1d, 5, 6, 0},                     // 8: pid == tgid: keep (14), else drop (15)
            {0x20, 0, 0, DATA + 12},             // 9: fork: A = child tgid
            {0x02, 0, 0, 0},                     // 10: M[0] = A
            {0x61, 0, 0, 0},                     // 11: X = M[0]
            {0x20, 0, 0, DATA + 8},              // 12: A = child pid
            {0x1d, 0, 1, 0},                     // 13: pid == tgid: keep (14), else drop (15)
            {0x06, 0, 0, 0xFFFF_FFFF},           // 14: keep
            {0x06, 0, 0, 0},                     // 15: drop
        };
    }

    /** The descriptor, for an event loop to wait on. */
    public Fd fd() {
        return fd;
    }

    /** Receives what the kernel has queued without waiting; calls {@code sink} with (what, pid) each. */
    public void drain(EventSink sink) {
        while (true) {
            long n;
            try {
                n = Sys.recv(fd, rx, Sys.MSG_DONTWAIT);
            } catch (NativeException e) {
                if (e.errno() == Errno.EAGAIN) {
                    return;
                }
                throw e;
            }
            for (int p = 0; p + DATA + 8 <= n; ) {
                int len = rx.getInt(p);
                if (len < Nl.HDRLEN || p + len > n) {
                    break;
                }
                int what = rx.getInt(p + EVENT);
                int pid = what == FORK ? rx.getInt(p + DATA + 12) : rx.getInt(p + DATA + 4);
                if (what == FORK || what == EXEC || what == EXIT) {
                    sink.event(what, pid);
                }
                p += Nl.align(len);
            }
        }
    }

    /** What one process event says: {@code what} ({@link #FORK}, {@link #EXEC}, {@link #EXIT}) of process {@code pid}. */
    @FunctionalInterface
    public interface EventSink {
        void event(int what, int pid);
    }

    @Override
    public void close() {
        fd.close();
    }
}
