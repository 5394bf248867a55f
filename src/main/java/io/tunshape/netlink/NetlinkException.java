package io.tunshape.netlink;

import io.tunshape.sys.Errno;

/** The kernel refused a request: its errno and, when it gave one, its extended-ack message. */
public class NetlinkException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int errno;
    private final String kernelMessage;
    private final int offset;

    public NetlinkException(int errno, String kernelMessage, int offset) {
        super(text(errno, kernelMessage));
        this.errno = errno;
        this.kernelMessage = kernelMessage;
        this.offset = offset;
    }

    private static String text(int errno, String kernelMessage) {
        String e = Errno.text(errno);
        return kernelMessage == null || kernelMessage.isEmpty() ? e : kernelMessage + " (" + e + ")";
    }

    /** Positive errno. */
    public int errno() {
        return errno;
    }

    /** The kernel's extended-ack text, or null. */
    public String kernelMessage() {
        return kernelMessage;
    }

    /** Byte offset of the offending attribute in the request, or -1. */
    public int offset() {
        return offset;
    }
}
