package io.tunshape.cli;

/** Exit status (SPEC section 4). */
public final class ExitCodes {
    public static final int OK = 0;
    public static final int REFUSED = 1;
    public static final int USAGE = 2;
    public static final int NO_SUCH = 3;
    public static final int PERMISSION = 4;
    /** Another change held the namespace's lock for the whole --wait. */
    public static final int BUSY = 5;

    private ExitCodes() {
    }
}
