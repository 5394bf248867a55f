package io.tunshape.shape;

import io.tunshape.netlink.NetlinkException;

import java.util.List;

/** The kernel refused a change on one interface; whatever had been changed was put back. */
public class ShapeException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String iface;
    private final transient NetlinkException netlink;
    private final List<String> rollbackFailures;
    private final boolean changedAny;

    public ShapeException(String iface, String what, NetlinkException cause, List<String> rollbackFailures,
                          boolean changedAny) {
        super(iface + ": " + what + ": " + cause.getMessage(), cause);
        this.iface = iface;
        this.netlink = cause;
        this.rollbackFailures = List.copyOf(rollbackFailures);
        this.changedAny = changedAny;
    }

    public String iface() {
        return iface;
    }

    public NetlinkException netlink() {
        return netlink;
    }

    /** Whether anything had been changed (and so put back) before the refusal. */
    public boolean changedAny() {
        return changedAny;
    }

    /** Interfaces that could not be put back, with the kernel's reason; empty when rollback succeeded. */
    public List<String> rollbackFailures() {
        return rollbackFailures;
    }
}
