package io.tunshape.sys;

/** errno values the product reacts to, and their text. */
public final class Errno {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int EACCES = 13;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int ENODEV = 19;
    public static final int EINVAL = 22;
    public static final int EBADMSG = 74;
    public static final int ENOSYS = 38;
    public static final int EOPNOTSUPP = 95;
    public static final int ENOPROTOOPT = 92;
    public static final int EADDRINUSE = 98;
    public static final int ENOBUFS = 105;

    private Errno() {
    }

    /** strerror text, e.g. "Invalid argument". */
    public static String text(int errno) {
        try {
            String s = LibC.strerror(errno);
            return s == null ? "errno " + errno : s;
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            return "errno " + errno;
        }
    }

    public static String describe(int errno) {
        return text(errno) + " (errno " + errno + ")";
    }
}
