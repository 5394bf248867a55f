package io.tunshape.sys;

/** A failed system call: the call's name and the errno it returned. */
public class NativeException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int errno;
    private final String call;

    public NativeException(String call, int errno) {
        super(call + ": " + Errno.describe(errno));
        this.call = call;
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }

    public String call() {
        return call;
    }
}
