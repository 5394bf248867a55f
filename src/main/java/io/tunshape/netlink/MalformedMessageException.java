package io.tunshape.netlink;

import io.tunshape.sys.Errno;

/**
 * A netlink message that cannot be what it claims: a header or attribute shorter than its type
 * needs, a length that runs past its message. The one exception a decoder throws on bad input;
 * a NetlinkException (errno EBADMSG), so every caller that handles the kernel's refusals handles it.
 */
public class MalformedMessageException extends NetlinkException {
    private static final long serialVersionUID = 1L;

    public MalformedMessageException(String what) {
        super(Errno.EBADMSG, "malformed netlink message: " + what, -1);
    }
}
