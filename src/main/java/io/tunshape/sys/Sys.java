package io.tunshape.sys;

import com.sun.jna.LastErrorException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The system calls tunshape makes, with errno turned into {@link NativeException}. Buffers must be
 * direct; their position and limit say which bytes are used.
 */
public final class Sys {
    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 2;
    public static final int O_CLOEXEC = 0x80000;
    public static final int O_NONBLOCK = 0x800;
    public static final int SOCK_RAW = 3;
    public static final int SOCK_CLOEXEC = 0x80000;
    public static final int SOL_SOCKET = 1;
    public static final int SO_SNDBUF = 7;
    public static final int SO_RCVBUF = 8;
    public static final int SO_RCVBUFFORCE = 33;
    public static final int MSG_PEEK = 2;
    public static final int MSG_TRUNC = 0x20;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int CLONE_NEWNET = 0x40000000;

    private Sys() {
    }

    public static Fd socket(int domain, int type, int protocol) {
        try {
            return new Fd(LibC.socket(domain, type, protocol));
        } catch (LastErrorException e) {
            throw new NativeException("socket", e.getErrorCode());
        }
    }

    public static Fd open(String path, int flags) {
        try {
            return new Fd(LibC.open(path, flags));
        } catch (LastErrorException e) {
            throw new NativeException("open " + path, e.getErrorCode());
        }
    }

    public static final int LOCK_SH = 1;
    public static final int LOCK_EX = 2;
    public static final int LOCK_NB = 4;
    public static final int LOCK_UN = 8;

    /**
     * flock(2) without waiting ({@code op} | LOCK_NB): true when taken, false when someone else holds
     * it. The lock belongs to the open file, so the kernel drops it when the last descriptor to it is
     * closed, by {@code close} or by the holder's death (SIGKILL included).
     */
    public static boolean tryFlock(Fd fd, int op) {
        int n = fd.acquire();
        try {
            LibC.flock(n, op | LOCK_NB);
            return true;
        } catch (LastErrorException e) {
            if (e.getErrorCode() == Errno.EAGAIN) {
                return false;
            }
            throw new NativeException("flock", e.getErrorCode());
        } finally {
            fd.release();
        }
    }

    public static void bind(Fd fd, ByteBuffer addr) {
        int n = fd.acquire();
        try {
            LibC.bind(n, addr, addr.remaining());
        } catch (LastErrorException e) {
            throw new NativeException("bind", e.getErrorCode());
        } finally {
            fd.release();
        }
    }

    public static void connect(Fd fd, ByteBuffer addr) {
        int n = fd.acquire();
        try {
            LibC.connect(n, addr, addr.remaining());
        } catch (LastErrorException e) {
            throw new NativeException("connect", e.getErrorCode());
        } finally {
            fd.release();
        }
    }

    /** Fills {@code addr} (from position 0) and returns the address length. */
    public static int getsockname(Fd fd, ByteBuffer addr) {
        int n = fd.acquire();
        try {
            int[] len = {addr.capacity()};
            LibC.getsockname(n, addr, len);
            return len[0];
        } catch (LastErrorException e) {
            throw new NativeException("getsockname", e.getErrorCode());
        } finally {
            fd.release();
        }
    }

    public static void setsockopt(Fd fd, int level, int name, int value) {
        int n = fd.acquire();
        try {
            LibC.setsockopt(n, level, name, new int[] {value}, 4);
        } catch (LastErrorException e) {
            throw new NativeException("setsockopt(" + level + "," + name + ")", e.getErrorCode());
        } finally {
            fd.release();
        }
    }

    /** A socket option whose value is a structure, {@code value}[0, limit). */
    public static void setsockopt(Fd fd, int level, int name, ByteBuffer value) {
        int n = fd.acquire();
        try {
            LibC.setsockopt(n, level, name, value, value.limit());
        } catch (LastErrorException e) {
            throw new NativeException("setsockopt(" + level + "," + name + ")", e.getErrorCode());
        } finally {
            fd.release();
        }
    }

    public static final int SO_ATTACH_FILTER = 26;

    /**
     * Attaches a classic BPF program (SO_ATTACH_FILTER): each instruction is {code, jt, jf, k} as in
     * struct sock_filter. What it returns 0 for is dropped before it wakes anyone.
     */
    public static void attachFilter(Fd fd, int[][] program) {
        ByteBuffer insns = ByteBuffer.allocateDirect(8 * program.length).order(ByteOrder.nativeOrder());
        for (int[] i : program) {
            insns.putShort((short) i[0]).put((byte) i[1]).put((byte) i[2]).putInt(i[3]);
        }
        // struct sock_fprog: unsigned short len, then (aligned) the pointer to the instructions
        ByteBuffer prog = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder());
        prog.putShort(0, (short) program.length)
                .putLong(8, com.sun.jna.Pointer.nativeValue(com.sun.jna.Native.getDirectBufferPointer(insns)));
        int n = fd.acquire();
        try {
            LibC.setsockopt(n, SOL_SOCKET, SO_ATTACH_FILTER, prog, 16);
        } catch (LastErrorException e) {
            throw new NativeException("setsockopt(SO_ATTACH_FILTER)", e.getErrorCode());
        } finally {
            fd.release();
            // the kernel copies the program during the call: until then its memory must stay
            java.lang.ref.Reference.reachabilityFence(insns);
            java.lang.ref.Reference.reachabilityFence(prog);
        }
    }

    /** An int-valued socket option. */
    public static int getsockopt(Fd fd, int level, int name) {
        int n = fd.acquire();
        try {
            int[] v = {0};
            LibC.getsockopt(n, level, name, v, new int[] {4});
            return v[0];
        } catch (LastErrorException e) {
            throw new NativeException("getsockopt(" + level + "," + name + ")", e.getErrorCode());
        } finally {
            fd.release();
        }
    }

    /** Sends buf[position, limit) to addr (or the connected peer when addr is null). */
    public static long sendto(Fd fd, ByteBuffer buf, int flags, ByteBuffer addr) {
        int n = fd.acquire();
        try {
            ByteBuffer b = buf.slice();
            return LibC.sendto(n, b, b.remaining(), flags, addr, addr == null ? 0 : addr.remaining());
        } catch (LastErrorException e) {
            throw new NativeException("sendto", e.getErrorCode());
        } finally {
            fd.release();
        }
    }

    /** Receives into buf from position 0, up to its capacity; returns the datagram's length. */
    public static long recv(Fd fd, ByteBuffer buf, int flags) {
        int n = fd.acquire();
        try {
            return LibC.recvfrom(n, buf, buf.capacity(), flags, null, null);
        } catch (LastErrorException e) {
            throw new NativeException("recv", e.getErrorCode());
        } finally {
            fd.release();
        }
    }

    /**
     * Hands the C heap's free memory back to the system (glibc's malloc_trim(0)): what the JIT's
     * compiler arenas took once and the JVM freed stays resident otherwise. False where the C
     * library has no such call.
     */
    public static boolean trimNativeHeap() {
        return LibC.mallocTrim();
    }

    /** No control message of the asked kind came with the datagram ({@link #recvWithCmsgInt}). */
    public static final int NO_CMSG = Integer.MIN_VALUE;

    /** Sees one control message of a datagram: its level, type, and where its data starts in {@code control}. */
    public interface CmsgVisitor {
        void visit(int level, int type, ByteBuffer control, int dataOffset, int dataLength);
    }

    /** A recvmsg's msghdr, iovec and control buffer, kept by their user so that a receive allocates nothing. */
    public static final class MsgBuffers {
        final ByteBuffer msghdr = ByteBuffer.allocateDirect(56).order(java.nio.ByteOrder.nativeOrder());
        final ByteBuffer iov = ByteBuffer.allocateDirect(16).order(java.nio.ByteOrder.nativeOrder());
        final ByteBuffer control;

        public MsgBuffers(int controlBytes) {
            control = ByteBuffer.allocateDirect(controlBytes).order(java.nio.ByteOrder.nativeOrder());
        }
    }

    /**
     * recvmsg into {@code buf} (from position 0, up to its capacity), showing each control message to
     * {@code v}. Returns the datagram's length (larger than buf when truncated, with MSG_TRUNC).
     */
    public static long recvmsg(Fd fd, ByteBuffer buf, int flags, MsgBuffers m, CmsgVisitor v) {
        ByteBuffer control = m.control;
        m.iov.putLong(0, address(buf)).putLong(8, buf.capacity());
        for (int i = 0; i < control.capacity(); i++) {
            control.put(i, (byte) 0);
        }
        m.msghdr.putLong(0, 0).putInt(8, 0).putInt(12, 0)
                .putLong(16, address(m.iov)).putLong(24, 1)
                .putLong(32, address(control)).putLong(40, control.capacity()).putInt(48, 0);
        int n = fd.acquire();
        long r;
        try {
            r = LibC.recvmsg(n, m.msghdr, flags);
        } catch (LastErrorException e) {
            throw new NativeException("recvmsg", e.getErrorCode());
        } finally {
            fd.release();
        }
        long controlLen = Math.min(m.msghdr.getLong(40), control.capacity());
        for (int off = 0; off + 16 <= controlLen; ) {
            long len = control.getLong(off);
            if (len < 16 || off + len > controlLen) {
                break;
            }
            v.visit(control.getInt(off + 8), control.getInt(off + 12), control, off + 16, (int) len - 16);
            off += (int) ((len + 7) & ~7L);
        }
        return r;
    }

    private static final ThreadLocal<MsgBuffers> CMSG_INT_BUFFERS = ThreadLocal.withInitial(() -> new MsgBuffers(64));

    /**
     * recvmsg with {@code out[0]} set to the int carried by the control message {@code level}/{@code
     * type} (e.g. SOL_NETLINK/NETLINK_LISTEN_ALL_NSID: the namespace a multicast came from), or
     * {@link #NO_CMSG}.
     */
    public static long recvWithCmsgInt(Fd fd, ByteBuffer buf, int flags, int level, int type, int[] out) {
        out[0] = NO_CMSG;
        return recvmsg(fd, buf, flags, CMSG_INT_BUFFERS.get(), (l, t, c, at, len) -> {
            if (l == level && t == type && len >= 4) {
                out[0] = c.getInt(at);
            }
        });
    }

    /** ioctl with a pointer to {@code arg} (read and written back by the kernel). */
    public static void ioctl(Fd fd, long request, byte[] arg) {
        int n = fd.acquire();
        try {
            LibCVarargs.INSTANCE.ioctl(n, request, arg);
        } catch (LastErrorException e) {
            throw new NativeException("ioctl(0x" + Long.toHexString(request) + ")", e.getErrorCode());
        } finally {
            fd.release();
        }
    }

    /** ioctl whose argument is the value itself (not a pointer to it). */
    public static void ioctl(Fd fd, long request, long value) {
        int n = fd.acquire();
        try {
            LibCVarargs.INSTANCE.ioctl(n, request, value);
        } catch (LastErrorException e) {
            throw new NativeException("ioctl(0x" + Long.toHexString(request) + ")", e.getErrorCode());
        } finally {
            fd.release();
        }
    }

    /**
     * writev(2) of {@code count} struct iovec (address, length: two longs each) at native address
     * {@code iov}: the byte count, or -1 for EAGAIN/EINTR; other errors throw.
     */
    public static int writev(Fd fd, long iov, int count) {
        int n = fd.acquire();
        try {
            return (int) orAgain("writev", LibC.writev(n, iov, count));
        } finally {
            fd.release();
        }
    }

    public static final short POLLIN = 0x1;
    public static final short POLLOUT = 0x4;
    public static final short POLLERR = 0x8;
    public static final short POLLHUP = 0x10;

    /**
     * Reads into buf (a direct buffer) from its position up to its limit; returns the byte count
     * and advances the position.
     */
    public static int read(Fd fd, ByteBuffer buf) {
        int n = fd.acquire();
        try {
            long r = LibC.read(n, buf.slice(), buf.remaining());
            buf.position(buf.position() + (int) r);
            return (int) r;
        } catch (LastErrorException e) {
            throw new NativeException("read", e.getErrorCode());
        } finally {
            fd.release();
        }
    }

    /** The native address of a direct buffer's first byte (not its position). */
    public static long address(ByteBuffer direct) {
        if (!direct.isDirect()) {
            throw new IllegalArgumentException("not a direct buffer");
        }
        return com.sun.jna.Pointer.nativeValue(com.sun.jna.Native.getDirectBufferPointer(direct));
    }

    /**
     * read(2) of up to {@code len} bytes into native memory at {@code addr}: the byte count, or -1
     * when there is nothing to read now (EAGAIN, EINTR). Other errors throw.
     */
    public static int read(Fd fd, long addr, int len) {
        int n = fd.acquire();
        try {
            return (int) orAgain("read", LibC.read(n, addr, len));
        } finally {
            fd.release();
        }
    }

    /** write(2) of {@code len} bytes from native memory at {@code addr}: as {@link #read(Fd, long, int)}. */
    public static int write(Fd fd, long addr, int len) {
        int n = fd.acquire();
        try {
            return (int) orAgain("write", LibC.write(n, addr, len));
        } finally {
            fd.release();
        }
    }

    /** A call's result: -1 for EAGAIN/EINTR, an exception for other errors. */
    static long orAgain(String call, long r) {
        if (r >= 0) {
            return r;
        }
        int errno = com.sun.jna.Native.getLastError();
        if (errno == Errno.EAGAIN || errno == Errno.EINTR) {
            return -1;
        }
        throw new NativeException(call, errno);
    }

    /** Writes buf[position, limit) (a direct buffer); returns the byte count and advances the position. */
    public static int write(Fd fd, ByteBuffer buf) {
        int n = fd.acquire();
        try {
            long r = LibC.write(n, buf.slice(), buf.remaining());
            buf.position(buf.position() + (int) r);
            return (int) r;
        } catch (LastErrorException e) {
            throw new NativeException("write", e.getErrorCode());
        } finally {
            fd.release();
        }
    }

    /** One struct pollfd a thread: poll is on the daemon's and the pump's hot paths, once a datagram. */
    private static final ThreadLocal<ByteBuffer> POLLFD =
            ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(8).order(java.nio.ByteOrder.nativeOrder()));

    /** Waits up to {@code timeoutMs} for {@code events} on one descriptor; returns the events seen (0 on timeout). */
    public static int poll(Fd fd, int events, int timeoutMs) {
        int n = fd.acquire();
        try {
            ByteBuffer p = POLLFD.get();
            p.putInt(0, n).putShort(4, (short) events).putShort(6, (short) 0);
            while (true) {
                try {
                    int r = LibC.poll(p, 1, timeoutMs);
                    return r == 0 ? 0 : Short.toUnsignedInt(p.getShort(6));
                } catch (LastErrorException e) {
                    if (e.getErrorCode() != Errno.EINTR) {
                        throw new NativeException("poll", e.getErrorCode());
                    }
                }
            }
        } finally {
            fd.release();
        }
    }

    public static final int O_NOCTTY = 0x100;
    private static final int TCSANOW = 0;
    private static final int VTIME = 5;
    private static final int VMIN = 6;
    private static final int CC_OFFSET = 17;
    private static final int CLOCAL = 0x800;
    private static final int CREAD = 0x80;

    /** Linux's speed_t codes for the usual line speeds. */
    private static final int[][] SPEEDS = {
        {300, 7}, {600, 8}, {1200, 9}, {1800, 10}, {2400, 11}, {4800, 12}, {9600, 13}, {19200, 14}, {38400, 15},
        {57600, 0x1001}, {115200, 0x1002}, {230400, 0x1003}, {460800, 0x1004}, {500000, 0x1005}, {576000, 0x1006},
        {921600, 0x1007}, {1000000, 0x1008}, {1152000, 0x1009}, {1500000, 0x100A}, {2000000, 0x100B},
        {2500000, 0x100C}, {3000000, 0x100D}, {3500000, 0x100E}, {4000000, 0x100F},
    };

    /** The line speeds {@link #rawSerial} accepts. */
    public static String serialSpeeds() {
        StringBuilder b = new StringBuilder();
        for (int[] s : SPEEDS) {
            b.append(b.length() == 0 ? "" : ", ").append(s[0]);
        }
        return b.toString();
    }

    /**
     * Puts a tty in raw mode at {@code baud} (8N1, no flow control, receiver on), with reads that
     * return after 100 ms without data so a reader can notice it should stop.
     */
    public static void rawSerial(Fd fd, int baud) {
        int code = -1;
        for (int[] s : SPEEDS) {
            if (s[0] == baud) {
                code = s[1];
            }
        }
        if (code < 0) {
            throw new IllegalArgumentException("baud " + baud + " is not a standard line speed; accepted: "
                    + serialSpeeds());
        }
        int n = fd.acquire();
        try {
            ByteBuffer t = ByteBuffer.allocateDirect(64).order(java.nio.ByteOrder.nativeOrder());
            LibC.tcgetattr(n, t);
            LibC.cfmakeraw(t);
            LibC.cfsetspeed(t, code);
            t.putInt(8, t.getInt(8) | CLOCAL | CREAD);
            t.put(CC_OFFSET + VMIN, (byte) 0);
            t.put(CC_OFFSET + VTIME, (byte) 1);
            LibC.tcsetattr(n, TCSANOW, t);
        } catch (LastErrorException e) {
            throw new NativeException("termios", e.getErrorCode());
        } finally {
            fd.release();
        }
    }

    private static final int SCHED_DEADLINE = 6;

    /**
     * Puts the calling thread under SCHED_DEADLINE (sched_setattr(2)): it may run {@code runtimeNs} in
     * every {@code periodNs} (deadline = period), ahead of every normal and real-time task, and the
     * kernel stops it for the rest of a period once it has used that. Needs CAP_SYS_NICE; the kernel
     * refuses (EBUSY) when the deadline tasks' total would exceed what it allows them.
     */
    public static void scheduleDeadline(long runtimeNs, long periodNs) {
        long nr = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> 314;
            case "aarch64" -> 274;
            default -> throw new NativeException("sched_setattr (no syscall number for "
                    + System.getProperty("os.arch") + ")", Errno.ENOSYS);
        };
        // struct sched_attr (SCHED_ATTR_SIZE_VER0): size, policy, flags, nice, priority, runtime, deadline, period
        ByteBuffer a = ByteBuffer.allocate(48).order(ByteOrder.nativeOrder());
        a.putInt(48).putInt(SCHED_DEADLINE).putLong(0).putInt(0).putInt(0)
                .putLong(runtimeNs).putLong(periodNs).putLong(periodNs);
        try {
            LibCVarargs.INSTANCE.syscall(nr, 0, a.array(), 0);
        } catch (LastErrorException e) {
            throw new NativeException("sched_setattr(SCHED_DEADLINE)", e.getErrorCode());
        }
    }

    /** Gives the calling thread namespaces of its own (CLONE_NEWNET: a fresh, empty network namespace). */
    public static void unshare(int flags) {
        try {
            LibC.unshare(flags);
        } catch (LastErrorException e) {
            throw new NativeException("unshare", e.getErrorCode());
        }
    }

    /** Moves the calling thread into the namespace {@code nsFd} refers to. */
    public static void setns(Fd nsFd, int nstype) {
        int n = nsFd.acquire();
        try {
            LibC.setns(n, nstype);
        } catch (LastErrorException e) {
            throw new NativeException("setns", e.getErrorCode());
        } finally {
            nsFd.release();
        }
    }

    static void closeQuietly(int fd) {
        try {
            LibC.close(fd);
        } catch (LastErrorException ignored) {
            // nothing useful to do: the number is gone either way (close(2) never leaves it open on Linux)
        }
    }
}
