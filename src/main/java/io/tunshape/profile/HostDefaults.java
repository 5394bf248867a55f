package io.tunshape.profile;

/** What the host's settings give the planner, read by its caller (the planner itself does no I/O). */
public final class HostDefaults {
    private HostDefaults() {
    }

    /** net.core.wmem_default, the send buffer a socket gets unless it asks otherwise (212992 when unreadable). */
    public static long wmemDefault() {
        try {
            // one large read: sysctl files answer a read at a non-zero offset with EOF, and
            // Files.readString reads a zero-sized file one byte at a time (it would get "2")
            try (java.io.BufferedReader r = java.nio.file.Files.newBufferedReader(
                    java.nio.file.Path.of("/proc/sys/net/core/wmem_default"))) {
                return Long.parseLong(r.readLine().trim());
            }
        } catch (java.io.IOException | RuntimeException e) {
            return 212992;
        }
    }
}
