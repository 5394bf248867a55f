package io.tunshape.netlink;

import io.tunshape.sys.Fd;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;

import java.util.concurrent.Callable;

/**
 * Runs code inside a namespace on the calling thread and comes back: for a loop that opens sockets in
 * a thousand namespaces, where {@link Netns#run} would start a thread for each. setns(2) moves only
 * the calling thread; the sockets opened meanwhile belong to the namespace for their whole life.
 */
public final class NetnsEntry implements AutoCloseable {
    private final Fd home;
    private final int type;

    private static final int CLONE_NEWUTS = 0x04000000;

    private NetnsEntry(int type, String name) {
        this.type = type;
        this.home = Sys.open("/proc/thread-self/ns/" + name, Sys.O_RDONLY | Sys.O_CLOEXEC);
    }

    /** Network namespaces, coming back to the calling thread's own. */
    public static NetnsEntry net() {
        return new NetnsEntry(Sys.CLONE_NEWNET, "net");
    }

    /** UTS namespaces (hostnames), coming back to the calling thread's own. */
    public static NetnsEntry uts() {
        return new NetnsEntry(CLONE_NEWUTS, "uts");
    }

    /**
     * Runs {@code work} in the namespace {@code target} refers to, then goes home. Going home failing
     * leaves this thread in the wrong namespace, which nothing can mend: that is an {@link Error}.
     */
    public <T> T within(Fd target, Callable<T> work) throws Exception {
        Sys.setns(target, type);
        try {
            return work.call();
        } finally {
            try {
                Sys.setns(home, type);
            } catch (NativeException e) {
                throw new IllegalStateException("cannot return to the daemon's own namespace: " + e.getMessage(), e);
            }
        }
    }

    @Override
    public void close() {
        home.close();
    }
}
