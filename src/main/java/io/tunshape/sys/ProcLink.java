package io.tunshape.sys;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;

/**
 * readlink(2) without exceptions, for reading /proc/PID/ns/* links by the thousand: a process that
 * has just exited is the common case there, and an exception (with its stack trace) for each cost
 * more than the read.
 */
public final class ProcLink {
    static {
        Native.register(ProcLink.class, NativeLibrary.getInstance("c"));
    }

    private static native long readlink(String path, byte[] buf, long size);

    private ProcLink() {
    }

    /** The inode in a namespace link such as "net:[4026531840]", or -1 when it cannot be read. */
    public static long namespaceInode(String path) {
        byte[] buf = new byte[64];
        long n = readlink(path, buf, buf.length);
        long ino = 0;
        boolean in = false;
        for (int i = 0; i < n; i++) {
            byte b = buf[i];
            if (b == '[') {
                in = true;
            } else if (in && b >= '0' && b <= '9') {
                ino = ino * 10 + (b - '0');
            } else if (in) {
                return ino;
            }
        }
        return -1;
    }
}
