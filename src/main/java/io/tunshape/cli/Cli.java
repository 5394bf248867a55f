package io.tunshape.cli;

import io.tunshape.netlink.NetlinkException;
import io.tunshape.netlink.Netns;
import io.tunshape.profile.PlanException;
import io.tunshape.profile.ProfileException;
import io.tunshape.netlink.NamespaceLock;
import io.tunshape.shape.MismatchException;
import io.tunshape.shape.NoSuchInterfaceException;
import io.tunshape.shape.ShapeException;
import io.tunshape.sys.Bpf;
import io.tunshape.sys.Errno;
import io.tunshape.sys.NativeException;
import io.tunshape.tc.UnitException;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Builds the command line with its error handling and exit codes; Main and the tests both use it. */
public final class Cli {
    private Cli() {
    }

    /** The whole command tree (help, completion, the man page, the tests) with its handlers and writers. */
    public static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        return configure(CommandTree.whole(), out, err);
    }

    private static CommandLine configure(CommandLine cl, PrintWriter out, PrintWriter err) {
        cl.setOut(out);
        cl.setErr(err);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionExceptionHandler(Cli::handle);
        cl.setParameterExceptionHandler((ex, args) -> {
            PrintWriter e = ex.getCommandLine().getErr();
            e.println("tunshape: " + ex.getMessage());
            if (!CommandLine.UnmatchedArgumentException.printSuggestions(ex, e)) {
                e.println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help'.");
            }
            e.flush();
            return ExitCodes.USAGE;
        });
        return cl;
    }

    /**
     * Runs a command line; returns its exit status. Only the invoked command's model is built
     * (CommandTree.forArgs); when its arguments do not parse, the whole tree parses them again, so
     * that the error and its suggestions are those of the whole tree (parsing changes nothing).
     */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine one = CommandTree.forArgs(args);
        int rc = UNPARSED;
        if (one != null) {
            configure(one, out, err);
            // a ParameterException thrown once the command runs is the command's own: not parsed again
            boolean[] started = {false};
            CommandLine.IExecutionStrategy runLast = new CommandLine.RunLast();
            CommandLine.IParameterExceptionHandler usage = one.getParameterExceptionHandler();
            one.setExecutionStrategy(parsed -> {
                started[0] = true;
                return runLast.execute(parsed);
            });
            one.setParameterExceptionHandler((ex, a) -> started[0] ? usage.handleParseException(ex, a) : UNPARSED);
            rc = one.execute(args);
        }
        if (rc == UNPARSED) {
            rc = commandLine(out, err).execute(args);
        }
        out.flush();
        err.flush();
        return rc;
    }

    /** The one-command model's answer to arguments it could not parse (no exit status is negative). */
    private static final int UNPARSED = -1;

    /** Says what went wrong on {@code cl}'s error writer and returns the exit status (package-private for tests). */
    static int handle(Exception ex, CommandLine cl, CommandLine.ParseResult parsed) {
        PrintWriter err = cl.getErr();
        boolean verbose = TunshapeCommand.verbose(cl);
        int code;
        String msg;
        if (ex instanceof ProfileException) {
            code = ExitCodes.USAGE;
            msg = ex.getMessage() + (cl.getCommand() instanceof ApplyCommand ? "; nothing was changed" : "");
        } else if (ex instanceof PlanException || ex instanceof UnitException) {
            code = ExitCodes.USAGE;
            msg = ex.getMessage() + "; nothing was changed";
        } else if (ex instanceof NoSuchInterfaceException || ex instanceof Netns.NoSuchNamespaceException) {
            code = ExitCodes.NO_SUCH;
            msg = ex.getMessage();
        } else if (ex instanceof NamespaceLock.BusyException b) {
            code = ExitCodes.BUSY;
            msg = b.getMessage() + "; nothing was changed (a longer --wait waits longer)";
        } else if (ex instanceof MismatchException m) {
            code = ExitCodes.REFUSED;
            msg = m.getMessage() + "\ntunshape: the change is incomplete: run the same command again, and look for "
                    + "another program changing this device's qdiscs (tc, a script) without tunshape's lock";
        } else if (ex instanceof ShapeException se) {
            NetlinkException n = se.netlink();
            code = permission(n.errno()) ? ExitCodes.PERMISSION : ExitCodes.REFUSED;
            msg = refused(se, code == ExitCodes.PERMISSION);
        } else if (ex instanceof NetlinkException n) {
            code = permission(n.errno()) ? ExitCodes.PERMISSION : ExitCodes.REFUSED;
            msg = "the kernel refused: " + n.getMessage()
                    + (code == ExitCodes.PERMISSION ? "; tunshape needs CAP_NET_ADMIN (run it as root)" : "");
        } else if (ex instanceof Bpf.RefusedException b) {
            code = permission(b.errno()) ? ExitCodes.PERMISSION : ExitCodes.REFUSED;
            msg = "the kernel refused the flow classifier program: " + b.getMessage()
                    + (code == ExitCodes.PERMISSION ? "; loading eBPF needs CAP_BPF or CAP_SYS_ADMIN (run it as root)"
                    : "") + (b.verifierLog().isEmpty() ? "" : "; the kernel's verifier said:\n" + b.verifierLog())
                    + "\ntunshape: nothing was changed";
        } else if (ex instanceof NativeException n) {
            code = permission(n.errno()) ? ExitCodes.PERMISSION : ExitCodes.REFUSED;
            msg = n.getMessage() + (code == ExitCodes.PERMISSION
                    ? "; tunshape needs CAP_NET_ADMIN, and CAP_SYS_ADMIN for --netns (run it as root)" : "");
        } else {
            code = ExitCodes.REFUSED;
            msg = "internal error: " + ex + (verbose ? "" : " (run with --verbose for details)");
        }
        err.println("tunshape: " + msg);
        if (verbose) {
            StringWriter sw = new StringWriter();
            ex.printStackTrace(new PrintWriter(sw));
            err.print(sw);
        }
        err.flush();
        return code;
    }

    /** A refused change: what the kernel said, and what was put back. */
    private static String refused(ShapeException se, boolean permission) {
        NetlinkException n = se.netlink();
        String msg = se.iface() + ": the kernel refused: " + n.getMessage() + hint(n);
        if (permission) {
            msg += "; tunshape needs CAP_NET_ADMIN (run it as root)";
        }
        if (!se.rollbackFailures().isEmpty()) {
            for (String f : se.rollbackFailures()) {
                msg += "\ntunshape: could not put back " + f;
            }
        } else if (!se.changedAny()) {
            msg += "\ntunshape: nothing was changed (re-read: the kernel holds what it held before)";
        } else {
            msg += "\ntunshape: every interface changed by this command was put back as it was (re-read)";
        }
        return msg;
    }

    private static boolean permission(int errno) {
        return errno == Errno.EPERM || errno == Errno.EACCES;
    }

    private static String hint(NetlinkException n) {
        if (n.kernelMessage() == null && n.errno() == Errno.EINVAL) {
            return " (tbf and htb give no reason for this error; the kernel log, dmesg, may say more)";
        }
        return "";
    }
}
