package io.tunshape.cli;

import java.io.PrintWriter;

public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        jnaSearchPath();
        oneShotSettings(args);
        preloadNative(args);
        PrintWriter out = new PrintWriter(System.out, false);
        PrintWriter err = new PrintWriter(System.err, true);
        System.exit(Cli.run(out, err, args));
    }

    /**
     * What a one-shot command sets for its short life (issue 24); the long-running commands keep the
     * defaults, and a value given with -D stays:
     * <ul>
     * <li>libc reached through JNA Functions, not direct mapping ({@link io.tunshape.sys.Sys#ONE_SHOT_CALLS}):
     * no registration, about 20 ms less for JNA's start;
     * <li>the JDK's native reflection accessors kept instead of bytecode generated for one after a
     * constructor's 15th call (-Dsun.reflect.inflationThreshold).
     * </ul>
     */
    static void oneShotSettings(String... args) {
        int at = CommandTree.subcommandIndex(args);
        String cmd = at < 0 ? "" : args[at];
        if (LONG_RUNNING.contains(cmd)) {
            return;
        }
        if (System.getProperty(INFLATION) == null) {
            System.setProperty(INFLATION, Integer.toString(Integer.MAX_VALUE));
        }
        if (System.getProperty(io.tunshape.sys.Sys.ONE_SHOT_CALLS) == null) {
            System.setProperty(io.tunshape.sys.Sys.ONE_SHOT_CALLS, "true");
        }
    }

    private static final String INFLATION = "sun.reflect.inflationThreshold";

    /**
     * For apply, show and clear, JNA's start (20 to 35 ms, with libc through Functions) on a thread of
     * its own while this one builds the command's model and parses (issue 24): on a machine with a free
     * core, that much sooner. Only
     * when JNA's dispatch library is the launcher's unpacked one (jna.boot.library.path, jna.nounpack),
     * so that loading it does not fail; were it to fail all the same, the first call would name
     * NoClassDefFoundError instead of the UnsatisfiedLinkError (the exit status is the same).
     */
    static void preloadNative(String... args) {
        if (preloads(args)) {
            Thread t = new Thread(io.tunshape.sys.Sys::preload, "tunshape-jna");
            t.setDaemon(true);
            t.start();
        }
    }

    /** Whether {@code args} run apply, show or clear (not their help) with the launcher's dispatch library. */
    static boolean preloads(String... args) {
        int at = CommandTree.subcommandIndex(args);
        String lib = System.getProperty("jna.boot.library.path");
        if (at < 0 || !PRELOAD.contains(args[at]) || lib == null || !Boolean.getBoolean("jna.nounpack")
                || !new java.io.File(lib, "libjnidispatch.so").isFile()) {
            return false;
        }
        for (String a : args) {
            if (a.equals("-h") || a.equals("--help") || a.equals("-V") || a.equals("--version")) {
                return false;
            }
        }
        return true;
    }

    private static final java.util.Set<String> PRELOAD = java.util.Set.of("apply", "show", "clear");

    private static final java.util.Set<String> LONG_RUNNING = java.util.Set.of("daemon", "pump", "top", "demo");

    /**
     * JNA's library search path, given before JNA looks for libc: without it JNA's first use runs
     * {@code /sbin/ldconfig -p} (a process, 10 to 60 ms of every start that touches the kernel) to
     * learn directories beyond these, the ones it searches itself; tunshape loads only libc, which
     * lives in the first. A path given with -Djna.platform.library.path stays.
     */
    static void jnaSearchPath() {
        if (System.getProperty("jna.platform.library.path") != null) {
            return;
        }
        String arch = switch (System.getProperty("os.arch", "")) {
            case "amd64", "x86_64" -> "x86_64-linux-gnu";
            case "aarch64" -> "aarch64-linux-gnu";
            default -> null;
        };
        String dirs = "/usr/lib64:/lib64:/usr/lib:/lib";
        System.setProperty("jna.platform.library.path", arch == null ? dirs
                : "/usr/lib/" + arch + ":/lib/" + arch + ":" + dirs);
    }
}
