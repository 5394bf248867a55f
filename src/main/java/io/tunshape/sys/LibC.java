package io.tunshape.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;

import java.nio.ByteBuffer;

/** Direct-mapped libc calls. The only class that names native functions; nothing outside {@code sys} sees it. */
final class LibC {
    static {
        // the class named: Native.register(library) alone finds its caller by walking the stack, about
        // 6 ms of a one-shot apply that waits for it (issue 24; interleaved medians of apply -v)
        Native.register(LibC.class, NativeLibrary.getInstance("c"));
    }

    private LibC() {
    }

    /** glibc's malloc_trim, looked up when first asked for (other C libraries lack it): null then. */
    private static volatile com.sun.jna.Function mallocTrim;
    private static volatile boolean mallocTrimLooked;

    /** malloc_trim(0): hands free heap memory back to the system; false where the C library has none. */
    static boolean mallocTrim() {
        if (!mallocTrimLooked) {
            try {
                mallocTrim = NativeLibrary.getInstance("c").getFunction("malloc_trim");
            } catch (UnsatisfiedLinkError e) {
                mallocTrim = null;
            }
            mallocTrimLooked = true;
        }
        com.sun.jna.Function f = mallocTrim;
        if (f == null) {
            return false;
        }
        f.invokeInt(new Object[] {0L});
        return true;
    }

    static native int socket(int domain, int type, int protocol) throws LastErrorException;

    static native int bind(int fd, ByteBuffer addr, int len) throws LastErrorException;

    static native int connect(int fd, ByteBuffer addr, int len) throws LastErrorException;

    static native int getsockopt(int fd, int level, int name, int[] value, int[] len) throws LastErrorException;

    static native long sendmsg(int fd, ByteBuffer msghdr, int flags) throws LastErrorException;

    // The hot path's calls return -1 and leave errno to Native.getLastError() instead of throwing:
    // an exception per empty read (EAGAIN) costs more than the read. Pointers are passed as long.

    /** read(2) into native memory at {@code addr} (a direct buffer's address plus an offset). */
    static native long read(int fd, long addr, long count);

    static native long write(int fd, long addr, long count);

    static native long recvmsg(int fd, long msghdr, int flags);

    /** writev(2) of {@code count} struct iovec at native address {@code iov}. */
    static native long writev(int fd, long iov, int count);

    static native int getsockname(int fd, ByteBuffer addr, int[] len) throws LastErrorException;

    static native int setsockopt(int fd, int level, int name, int[] value, int len) throws LastErrorException;

    static native int setsockopt(int fd, int level, int name, ByteBuffer value, int len) throws LastErrorException;

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
}
