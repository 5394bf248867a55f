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
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_TRUNC = 0x200;
    public static final int O_CLOEXEC = 0x80000;
    public static final int O_NONBLOCK = 0x800;
    public static final int SOCK_RAW = 3;
    public static final int SOCK_CLOEXEC = 0x80000;
    public static final int SOL_SOCKET = 1;
    public static final int SO_SNDBUF = 7;
    public static final int SO_RCVBUF = 8;
    public static final int SO_RCVBUFFORCE = 33;
    public static final int MSG_TRUNC = 0x20;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int CLONE_NEWNET = 0x40000000;

    /**
     * The system property that, {@code true} before the first call, has libc reached through JNA
     * Functions instead of direct mapping: a start some 20 ms shorter, each call a few microseconds
     * longer; for one-shot commands (Main sets it), not the pump or the daemon.
     */
    public static final String ONE_SHOT_CALLS = "tunshape.jna.functions";

    private Sys() {
    }

    /**
     * Loads libc through JNA now (JNA's dispatch library, and either every direct-mapped function with
     * the FFI types they need, 45 to 75 ms, or with {@link #ONE_SHOT_CALLS} JNA's Function classes, 20 to
     * 35 ms), for a caller that starts it on another thread while it does other start-up work (issue 24).
     * What goes wrong is said by the first call that needs it, as without this.
     */
    public static void preload() {
        try {
            Class.forName(LibC.class.getName(), true, Sys.class.getClassLoader());
        } catch (Throwable e) {
            // said by the first call that needs libc
        }
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
    public static final int LOCK_UN = 8;
    public static final int LOCK_NB = 4;

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
    public static final int SO_DETACH_FILTER = 27;

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

    /** Removes the socket's classic BPF program (SO_DETACH_FILTER, whose value the kernel ignores): it receives everything again. */
    public static void detachFilter(Fd fd) {
        setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, 0);
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

    /**
     * recvmsg with {@code out[0]} set to the int carried by the control message {@code level}/{@code
     * type} (e.g. SOL_NETLINK/NETLINK_LISTEN_ALL_NSID: the namespace a multicast came from), or
     * {@link #NO_CMSG}. Kept here for its callers; the work is {@link RecvMsg}'s.
     */
    public static long recvWithCmsgInt(Fd fd, ByteBuffer buf, int flags, int level, int type, int[] out) {
        return RecvMsg.withInt(fd, buf, flags, level, type, out);
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
