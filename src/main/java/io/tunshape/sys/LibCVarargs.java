package io.tunshape.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;

/** libc calls that are variadic (ioctl) and so cannot be direct-mapped: a fixed signature per use. */
interface LibCVarargs extends Library {
    LibCVarargs INSTANCE = Native.load("c", LibCVarargs.class);

    int ioctl(int fd, long request, byte[] arg) throws LastErrorException;

    /** ioctl whose argument is a value, not a pointer (TUNSETOFFLOAD). */
    int ioctl(int fd, long request, long arg) throws LastErrorException;

    /** syscall(2), for sched_setattr, which glibc before 2.41 does not wrap. */
    long syscall(long number, int tid, byte[] attr, int flags) throws LastErrorException;
}
