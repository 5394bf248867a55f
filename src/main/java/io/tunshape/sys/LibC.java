package io.tunshape.sys;

import com.sun.jna.Function;
import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;

import java.nio.ByteBuffer;

/**
 * The libc calls tunshape makes: the only class that names native functions; nothing outside
 * {@code sys} sees it. Each is reached one of two ways, chosen once per process:
 * <ul>
 * <li>direct mapping ({@link Direct}, registered with JNA): the fastest call, for the daemon, the pump
 * and the tests. Registering costs about 20 ms of start, most of it JNA building its FFI type
 * structures by reflection, and a one-shot apply that waited for it missed its 25 ms (issue 24);
 * <li>JNA {@link Function}s, when the system property {@value Sys#ONE_SHOT_CALLS} is {@code true} (Main sets it for
 * one-shot commands): nothing is registered, and each call boxes its arguments (a few microseconds,
 * beside the tens a netlink request costs). The same native dispatch converts the arguments either way
 * (a direct buffer from its position, arrays copied back, strings as C strings).
 * </ul>
 */
final class LibC {
    static final boolean DIRECT = !Boolean.getBoolean(Sys.ONE_SHOT_CALLS);
    private static final NativeLibrary C = NativeLibrary.getInstance("c");
    private static final int THROWS = Function.THROW_LAST_ERROR;

    static {
        if (DIRECT) {
            Direct.registered();
        } else {
            C.getFunction("close", THROWS); // JNA's Function classes, while a caller may be busy elsewhere
        }
    }

    private LibC() {
    }

    /** Direct-mapped declarations, registered when the class is first used. */
    private static final class Direct {
        static {
            // the class named: Native.register(library) alone finds its caller by walking the stack, about
            // 6 ms of a one-shot apply that waits for it (issue 24; interleaved medians of apply -v)
            Native.register(Direct.class, C);
        }

        private Direct() {
        }

        static void registered() {
        }

        static native int socket(int domain, int type, int protocol) throws LastErrorException;

        static native int bind(int fd, ByteBuffer addr, int len) throws LastErrorException;

        static native int connect(int fd, ByteBuffer addr, int len) throws LastErrorException;

        static native int getsockopt(int fd, int level, int name, int[] value, int[] len) throws LastErrorException;

        static native long sendmsg(int fd, ByteBuffer msghdr, int flags) throws LastErrorException;

        // The hot path's calls return -1 and leave errno to Native.getLastError() instead of throwing:
        // an exception per empty read (EAGAIN) costs more than the read. Pointers are passed as long.
        static native long read(int fd, long addr, long count);

        static native long write(int fd, long addr, long count);

        static native long recvmsg(int fd, long msghdr, int flags);

        static native long writev(int fd, long iov, int count);

        static native int getsockname(int fd, ByteBuffer addr, int[] len) throws LastErrorException;

        static native int setsockopt(int fd, int level, int name, int[] value, int len) throws LastErrorException;

        static native int setsockopt(int fd, int level, int name, ByteBuffer value, int len)
                throws LastErrorException;

        static native long sendto(int fd, ByteBuffer buf, long len, int flags, ByteBuffer addr, int addrLen)
                throws LastErrorException;

        static native long recvfrom(int fd, ByteBuffer buf, long len, int flags, ByteBuffer addr, int[] addrLen)
                throws LastErrorException;

        static native int open(String path, int flags) throws LastErrorException;

        static native int close(int fd) throws LastErrorException;

        static native int flock(int fd, int operation) throws LastErrorException;

        static native int setns(int fd, int nstype) throws LastErrorException;

        static native int unshare(int flags) throws LastErrorException;

        static native long read(int fd, ByteBuffer buf, long count) throws LastErrorException;

        static native long write(int fd, ByteBuffer buf, long count) throws LastErrorException;

        static native int poll(ByteBuffer fds, long nfds, int timeout) throws LastErrorException;

        static native long recvmsg(int fd, ByteBuffer msghdr, int flags) throws LastErrorException;

        static native String strerror(int errnum);

        static native int tcgetattr(int fd, ByteBuffer termios) throws LastErrorException;

        static native int tcsetattr(int fd, int when, ByteBuffer termios) throws LastErrorException;

        static native void cfmakeraw(ByteBuffer termios);

        static native int cfsetspeed(ByteBuffer termios, int speed) throws LastErrorException;

        static native int mount(String source, String target, String type, long flags, String data)
                throws LastErrorException;

        static native int umount2(String target, int flags) throws LastErrorException;
    }

    private static int call(String f, Object... args) throws LastErrorException {
        return C.getFunction(f, THROWS).invokeInt(args);
    }

    private static long callLong(String f, Object... args) throws LastErrorException {
        return C.getFunction(f, THROWS).invokeLong(args);
    }

    /** As {@link #callLong}, but a failure returns -1 and leaves errno to {@link Native#getLastError()}. */
    private static long callLongQuietly(String f, Object... args) {
        return C.getFunction(f, 0).invokeLong(args);
    }

    private static String callString(String f, Object... args) {
        return C.getFunction(f, 0).invokeString(args, false);
    }

    /** glibc's malloc_trim, looked up when first asked for (other C libraries lack it): null then. */
    private static volatile Function mallocTrim;
    private static volatile boolean mallocTrimLooked;

    /** malloc_trim(0): hands free heap memory back to the system; false where the C library has none. */
    static boolean mallocTrim() {
        if (!mallocTrimLooked) {
            try {
                mallocTrim = C.getFunction("malloc_trim");
            } catch (UnsatisfiedLinkError e) {
                mallocTrim = null;
            }
            mallocTrimLooked = true;
        }
        Function f = mallocTrim;
        if (f == null) {
            return false;
        }
        f.invokeInt(new Object[] {0L});
        return true;
    }

    static int socket(int domain, int type, int protocol) throws LastErrorException {
        return DIRECT ? Direct.socket(domain, type, protocol) : call("socket", domain, type, protocol);
    }

    static int bind(int fd, ByteBuffer addr, int len) throws LastErrorException {
        return DIRECT ? Direct.bind(fd, addr, len) : call("bind", fd, addr, len);
    }

    static int connect(int fd, ByteBuffer addr, int len) throws LastErrorException {
        return DIRECT ? Direct.connect(fd, addr, len) : call("connect", fd, addr, len);
    }

    static int getsockopt(int fd, int level, int name, int[] value, int[] len) throws LastErrorException {
        return DIRECT ? Direct.getsockopt(fd, level, name, value, len)
                : call("getsockopt", fd, level, name, value, len);
    }

    static long sendmsg(int fd, ByteBuffer msghdr, int flags) throws LastErrorException {
        return DIRECT ? Direct.sendmsg(fd, msghdr, flags) : callLong("sendmsg", fd, msghdr, flags);
    }

    /** read(2) into native memory at {@code addr} (a direct buffer's address plus an offset). */
    static long read(int fd, long addr, long count) {
        return DIRECT ? Direct.read(fd, addr, count) : callLongQuietly("read", fd, addr, count);
    }

    static long write(int fd, long addr, long count) {
        return DIRECT ? Direct.write(fd, addr, count) : callLongQuietly("write", fd, addr, count);
    }

    static long recvmsg(int fd, long msghdr, int flags) {
        return DIRECT ? Direct.recvmsg(fd, msghdr, flags) : callLongQuietly("recvmsg", fd, msghdr, flags);
    }

    /** writev(2) of {@code count} struct iovec at native address {@code iov}. */
    static long writev(int fd, long iov, int count) {
        return DIRECT ? Direct.writev(fd, iov, count) : callLongQuietly("writev", fd, iov, count);
    }

    static int getsockname(int fd, ByteBuffer addr, int[] len) throws LastErrorException {
        return DIRECT ? Direct.getsockname(fd, addr, len) : call("getsockname", fd, addr, len);
    }

    static int setsockopt(int fd, int level, int name, int[] value, int len) throws LastErrorException {
        return DIRECT ? Direct.setsockopt(fd, level, name, value, len)
                : call("setsockopt", fd, level, name, value, len);
    }

    static int setsockopt(int fd, int level, int name, ByteBuffer value, int len) throws LastErrorException {
        return DIRECT ? Direct.setsockopt(fd, level, name, value, len)
                : call("setsockopt", fd, level, name, value, len);
    }

    static long sendto(int fd, ByteBuffer buf, long len, int flags, ByteBuffer addr, int addrLen)
            throws LastErrorException {
        return DIRECT ? Direct.sendto(fd, buf, len, flags, addr, addrLen)
                : callLong("sendto", fd, buf, len, flags, addr, addrLen);
    }

    static long recvfrom(int fd, ByteBuffer buf, long len, int flags, ByteBuffer addr, int[] addrLen)
            throws LastErrorException {
        return DIRECT ? Direct.recvfrom(fd, buf, len, flags, addr, addrLen)
                : callLong("recvfrom", fd, buf, len, flags, addr, addrLen);
    }

    static int open(String path, int flags) throws LastErrorException {
        return DIRECT ? Direct.open(path, flags) : call("open", path, flags);
    }

    static int close(int fd) throws LastErrorException {
        return DIRECT ? Direct.close(fd) : call("close", fd);
    }

    static int flock(int fd, int operation) throws LastErrorException {
        return DIRECT ? Direct.flock(fd, operation) : call("flock", fd, operation);
    }

    static int setns(int fd, int nstype) throws LastErrorException {
        return DIRECT ? Direct.setns(fd, nstype) : call("setns", fd, nstype);
    }

    static int unshare(int flags) throws LastErrorException {
        return DIRECT ? Direct.unshare(flags) : call("unshare", flags);
    }

    static long read(int fd, ByteBuffer buf, long count) throws LastErrorException {
        return DIRECT ? Direct.read(fd, buf, count) : callLong("read", fd, buf, count);
    }

    static long write(int fd, ByteBuffer buf, long count) throws LastErrorException {
        return DIRECT ? Direct.write(fd, buf, count) : callLong("write", fd, buf, count);
    }

    static int poll(ByteBuffer fds, long nfds, int timeout) throws LastErrorException {
        return DIRECT ? Direct.poll(fds, nfds, timeout) : call("poll", fds, nfds, timeout);
    }

    static long recvmsg(int fd, ByteBuffer msghdr, int flags) throws LastErrorException {
        return DIRECT ? Direct.recvmsg(fd, msghdr, flags) : callLong("recvmsg", fd, msghdr, flags);
    }

    static String strerror(int errnum) {
        return DIRECT ? Direct.strerror(errnum) : callString("strerror", errnum);
    }

    static int tcgetattr(int fd, ByteBuffer termios) throws LastErrorException {
        return DIRECT ? Direct.tcgetattr(fd, termios) : call("tcgetattr", fd, termios);
    }

    static int tcsetattr(int fd, int when, ByteBuffer termios) throws LastErrorException {
        return DIRECT ? Direct.tcsetattr(fd, when, termios) : call("tcsetattr", fd, when, termios);
    }

    static void cfmakeraw(ByteBuffer termios) {
        if (DIRECT) {
            Direct.cfmakeraw(termios);
        } else {
            C.getFunction("cfmakeraw", 0).invokeVoid(new Object[] {termios});
        }
    }

    static int cfsetspeed(ByteBuffer termios, int speed) throws LastErrorException {
        return DIRECT ? Direct.cfsetspeed(termios, speed) : call("cfsetspeed", termios, speed);
    }

    static int mount(String source, String target, String type, long flags, String data) throws LastErrorException {
        return DIRECT ? Direct.mount(source, target, type, flags, data)
                : call("mount", source, target, type, flags, data);
    }

    static int umount2(String target, int flags) throws LastErrorException {
        return DIRECT ? Direct.umount2(target, flags) : call("umount2", target, flags);
    }
}
