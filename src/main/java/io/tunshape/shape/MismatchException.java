package io.tunshape.shape;

import java.util.List;

/**
 * After a change (and one repair), the re-read kernel state still differs from the plan: the
 * change is not complete, and is never reported as a success. {@code missing} says what differs,
 * as the steps that would still be needed.
 */
public class MismatchException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String iface;
    private final List<String> missing;

    public MismatchException(String iface, List<String> missing) {
        super(iface + ": after the change the kernel does not hold the plan; still needed: "
                + String.join("; ", missing));
        this.iface = iface;
        this.missing = List.copyOf(missing);
    }

    public String iface() {
        return iface;
    }

    public List<String> missing() {
        return missing;
    }
}
