package io.tunshape.cli;

import java.io.PrintWriter;

public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        jnaSearchPath();
        nativeReflection(args);
        PrintWriter out = new PrintWriter(System.out, false);
        PrintWriter err = new PrintWriter(System.err, true);
        System.exit(Cli.run(out, err, args));
    }

    /**
     * A one-shot command keeps the JDK's native reflection accessors instead of generating bytecode for
     * one after a constructor's 15th call (JNA's own structures pass that on their first use, about
     * 4 ms of a start that touches the kernel, issue 24); the long-running commands keep the default.
     * A threshold given with -Dsun.reflect.inflationThreshold stays.
     */
    static void nativeReflection(String... args) {
        int at = CommandTree.subcommandIndex(args);
        String cmd = at < 0 ? "" : args[at];
        if (System.getProperty(INFLATION) == null && !LONG_RUNNING.contains(cmd)) {
            System.setProperty(INFLATION, Integer.toString(Integer.MAX_VALUE));
        }
    }

    private static final String INFLATION = "sun.reflect.inflationThreshold";

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
