package io.tunshape.cli;

/** Exit status (SPEC section 4). */
public final class ExitCodes {
    public static final int OK = 0;
    public static final int REFUSED = 1;
    public static final int USAGE = 2;
    public static final int NO_SUCH = 3;
    public static final int PERMISSION = 4;

    public static final String[] LIST = {
        "0:success",
        "1:the kernel or the system refused (the kernel's extended-ack text is shown when it gave one)",
        "2:invalid usage or invalid input; nothing was changed",
        "3:no such interface or network namespace",
        "4:permission denied (needs CAP_NET_ADMIN, and CAP_SYS_ADMIN for --netns)",
    };

    private ExitCodes() {
    }
}
