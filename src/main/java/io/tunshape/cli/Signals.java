package io.tunshape.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * SIGTERM and SIGINT as a request to stop, so long-running commands end cleanly with status 0
 * instead of the JVM's default 143/130. Uses sun.misc.Signal (jdk.unsupported), the only way the
 * JDK offers.
 */
final class Signals {
    private Signals() {
    }

    @SuppressWarnings("removal")
    static Object install(Runnable onStop) {
        List<Object[]> old = new ArrayList<>();
        for (String name : new String[] {"TERM", "INT"}) {
            sun.misc.Signal sig = new sun.misc.Signal(name);
            sun.misc.SignalHandler prev = sun.misc.Signal.handle(sig, s -> onStop.run());
            old.add(new Object[] {sig, prev});
        }
        return old;
    }

    /** SIGHUP as a request to reload. */
    static Object installHangup(Runnable onHangup) {
        return installOne("HUP", onHangup);
    }

    /** SIGWINCH: the terminal changed size. */
    static Object installResize(Runnable onResize) {
        return installOne("WINCH", onResize);
    }

    @SuppressWarnings("removal")
    private static Object installOne(String name, Runnable handler) {
        sun.misc.Signal sig = new sun.misc.Signal(name);
        sun.misc.SignalHandler prev = sun.misc.Signal.handle(sig, s -> handler.run());
        List<Object[]> old = new ArrayList<>();
        old.add(new Object[] {sig, prev});
        return old;
    }

    @SuppressWarnings({"removal", "unchecked"})
    static void uninstall(Object token) {
        for (Object[] o : (List<Object[]>) token) {
            sun.misc.Signal.handle((sun.misc.Signal) o[0], (sun.misc.SignalHandler) o[1]);
        }
    }
}
