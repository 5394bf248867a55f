package io.tunshape.sys;

import com.sun.jna.LastErrorException;

/**
 * A mount namespace of the calling thread's own, and sysfs mounted in it. sysfs shows the network
 * devices of the namespace its mounter was in when it mounted it, so reading a device's attributes
 * (tun_flags) in another network namespace takes a sysfs mounted from inside it; `ip netns exec`
 * does the same. unshare(CLONE_NEWNS) also unshares the thread's file-system information
 * (CLONE_FS), which a thread of a multi-threaded process may do alone: the process and its other
 * threads keep the host's mounts.
 */
public final class Mounts {
    private static final int CLONE_NEWNS = 0x00020000;
    private static final long MS_REC = 16384;
    private static final long MS_PRIVATE = 1L << 18;
    private static final int MNT_DETACH = 2;

    private Mounts() {
    }

    /**
     * Gives the calling thread a private copy of the mount tree (nothing it mounts reaches the host)
     * and mounts a sysfs of the thread's current network namespace on /sys in it. Call it after
     * setns(CLONE_NEWNET), on a thread that is thrown away afterwards.
     */
    public static void privateSysfs() {
        try {
            LibC.unshare(CLONE_NEWNS);
        } catch (LastErrorException e) {
            throw new NativeException("unshare(CLONE_NEWNS)", e.getErrorCode());
        }
        try {
            LibC.mount("none", "/", null, MS_REC | MS_PRIVATE, null);
        } catch (LastErrorException e) {
            throw new NativeException("mount --make-rprivate /", e.getErrorCode());
        }
        try {
            LibC.umount2("/sys", MNT_DETACH);
        } catch (LastErrorException e) {
            if (e.getErrorCode() != Errno.EINVAL && e.getErrorCode() != Errno.ENOENT) {
                throw new NativeException("umount /sys", e.getErrorCode());
            }
        }
        try {
            LibC.mount("sysfs", "/sys", "sysfs", 0, null);
        } catch (LastErrorException e) {
            throw new NativeException("mount sysfs", e.getErrorCode());
        }
    }
}
